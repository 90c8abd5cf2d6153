// The checkpoint: switchboard.json, a lowdb document holding the whole state as of a journal
// position. It is written atomically (temp + fsync + rename + directory fsync) off the hot path
// (src/store/checkpoint.worker.ts), after which the journal segments it covers are deleted. A file
// that cannot be read as ours is reported with its name and never overwritten.
import { join } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import { SwitchboardError } from '../errors.ts';
import { type FileSystem, isNotFound, writeFileAtomic } from './files.ts';
import { type JournalRecord, scanSegment, segmentName, segmentNumbers } from './journal.ts';
import type { FailoverRecord, MessageRecord, Op } from './schema.ts';
import { type StateDocument, StoreState } from './state.ts';

export const CHECKPOINT_FILE = 'switchboard.json';

export interface CheckpointDocument {
  version: 2;
  /** Segments before `next` are folded in; `group` is the last commit group they held. */
  journal: { next: number; group: number };
  collections: StateDocument;
}

/** lowdb's Adapter for the checkpoint, over the store's file layer. */
export class CheckpointFile implements Adapter<CheckpointDocument> {
  readonly file: string;

  constructor(
    readonly fs: FileSystem,
    readonly dir: string,
  ) {
    this.file = join(dir, CHECKPOINT_FILE);
  }

  async read(): Promise<CheckpointDocument | null> {
    let bytes: Buffer;
    try {
      bytes = await this.fs.readFile(this.file);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw storeCorrupt(this.file, `cannot be read: ${(err as Error).message}`);
    }
    let data: unknown;
    try {
      data = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      throw storeCorrupt(this.file, `not valid JSON (${(err as Error).message})`);
    }
    const doc = upgrade(data);
    if (typeof doc === 'string') throw storeCorrupt(this.file, doc);
    return doc;
  }

  write(doc: CheckpointDocument): Promise<void> {
    return writeFileAtomic(this.fs, this.dir, CHECKPOINT_FILE, Buffer.from(JSON.stringify(doc), 'utf8'));
  }
}

export function storeCorrupt(file: string, why: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_STORE_CORRUPT',
    `store file ${file} is corrupt: ${why}. It was left untouched; repair it or move it away to start empty.`,
    500,
  );
}

/** A version 2 document, or a version 1 one (one JSON file, no journal) converted; else what is wrong. */
function upgrade(data: unknown): CheckpointDocument | string {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return 'not a JSON object';
  const v = data as Record<string, unknown>;
  if (v.version === 2) {
    const journal = v.journal as CheckpointDocument['journal'] | undefined;
    if (typeof journal?.next !== 'number' || typeof journal.group !== 'number')
      return 'field "journal" is not {next, group}';
    if (typeof v.collections !== 'object' || v.collections === null) return 'field "collections" is missing';
    return v as unknown as CheckpointDocument;
  }
  if (v.version !== 1) return `unsupported version ${JSON.stringify(v.version)}`;
  for (const key of ['messages', 'idempotency', 'affinity', 'masters'] as const) {
    const field = v[key];
    if (typeof field !== 'object' || field === null || Array.isArray(field))
      return `field "${key}" is not an object`;
  }
  if (!Array.isArray(v.failovers)) return 'field "failovers" is not an array';
  const idempotency: Record<string, { id: string; at: number; hash: string }> = {};
  for (const [key, entry] of Object.entries(v.idempotency as Record<string, { id: string; at: number }>))
    idempotency[key] = { id: entry.id, at: entry.at, hash: '' }; // no hash was kept: any body matches
  const failovers = v.failovers as FailoverRecord[];
  return {
    version: 2,
    journal: { next: 1, group: 0 },
    collections: {
      messages: v.messages as Record<string, MessageRecord>,
      idempotency,
      affinity: v.affinity as Record<string, string>,
      masters: v.masters as StateDocument['masters'] & object,
      failovers: Object.fromEntries(failovers.map((f) => [f.id, f])),
      meta: { incident: failovers.length },
    },
  };
}

export interface LoadedState {
  state: StoreState;
  /** First segment not folded into the checkpoint. */
  next: number;
  /** Last commit group applied. */
  group: number;
  /** Segments after the checkpoint, in order, with what was read of each. */
  segments: {
    seq: number;
    validBytes: number;
    size: number;
    torn: { offset: number; reason: string } | null;
  }[];
  /** Archive ops replayed from the journal (their history lines may need writing). */
  archived: MessageRecord[];
  /** Whether switchboard.json exists. */
  hasCheckpoint: boolean;
}

/**
 * Start-up: the checkpoint, then every journal segment after it, in order. Only the last segment
 * may end in a torn record (reported in `segments`, cut by the caller); anything else that is
 * not whole throws SB_ERR_STORE_CORRUPT naming the file and offset. `upTo`: stop before this segment.
 */
export async function loadState(
  fs: FileSystem,
  dir: string,
  upTo = Number.POSITIVE_INFINITY,
): Promise<LoadedState> {
  const db = new Low<CheckpointDocument | null>(
    new CheckpointFile(fs, dir) as Adapter<CheckpointDocument | null>,
    null,
  );
  await db.read();
  const doc = db.data;
  const built = StoreState.fromDocument(doc?.collections ?? {});
  if ('problem' in built) throw storeCorrupt(join(dir, CHECKPOINT_FILE), built.problem);
  const state = built.state;
  const next = doc?.journal.next ?? 1;
  let group = doc?.journal.group ?? 0;
  const seqs = segmentNumbers(await fs.readdir(dir)).filter((s) => s >= next && s < upTo);
  const segments: LoadedState['segments'] = [];
  const archived: MessageRecord[] = [];
  for (const [i, seq] of seqs.entries()) {
    const file = join(dir, segmentName(seq));
    if (i > 0 && seq !== seqs[i - 1]! + 1)
      throw storeCorrupt(file, `journal segment ${seqs[i - 1]! + 1} is missing before it`);
    const bytes = await fs.readFile(file);
    let scan: ReturnType<typeof scanSegment>;
    try {
      scan = scanSegment(bytes);
    } catch (err) {
      const { offset, reason } = err as { offset?: number; reason?: string };
      if (offset === undefined) throw err;
      throw storeCorrupt(file, `${reason} at offset ${offset}`);
    }
    const last = i === seqs.length - 1 && upTo === Number.POSITIVE_INFINITY;
    if (scan.torn && !last)
      throw storeCorrupt(file, `${scan.torn.reason} at offset ${scan.torn.offset}, and later segments exist`);
    for (const record of scan.records) {
      if (record.n <= group)
        throw storeCorrupt(file, `commit group ${record.n} does not follow group ${group}`);
      group = record.n;
      applyRecord(state, record, archived);
    }
    segments.push({ seq, validBytes: scan.validBytes, size: bytes.length, torn: scan.torn });
  }
  return { state, next, group, segments, archived, hasCheckpoint: doc !== null };
}

export function applyRecord(state: StoreState, record: JournalRecord, archived?: MessageRecord[]): void {
  for (const op of record.ops as Op[]) {
    state.apply(op);
    if (op[0] === 'archive') archived?.push(op[1]);
  }
}

/**
 * Folds segments [checkpoint.next, upTo) into a new checkpoint. Runs in the checkpoint worker (or
 * inline in the simulation); the caller deletes the folded segments once it resolves.
 */
export async function writeCheckpoint(
  fs: FileSystem,
  dir: string,
  upTo: number,
): Promise<{ group: number; messages: number }> {
  const loaded = await loadState(fs, dir, upTo);
  const doc: CheckpointDocument = {
    version: 2,
    journal: { next: upTo, group: loaded.group },
    collections: loaded.state.toDocument(),
  };
  const db = new Low<CheckpointDocument>(new CheckpointFile(fs, dir), doc);
  await db.write();
  return { group: loaded.group, messages: loaded.state.messageCount };
}
