// Finished messages leave the live state for append-only history files (history-<n>.jsonl, one
// JSON line each), rotated by size and age. A closed file gets an index (history-<n>.idx: its id
// hashes sorted, with each line's offset and length), kept in memory as one Buffer per file
// (16 bytes a message), so a lookup by id is a binary search and one read, never a scan.
// Lines are not fsync'd one by one: the journal's archive op is the durable copy, and a file is
// fsync'd before the journal segments that hold its lines are dropped (src/store/store.ts).
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { type FileHandle, type FileSystem, isNotFound, writeAll, writeFileAtomic } from './files.ts';
import { type MessageRecord, withoutText } from './schema.ts';

const NAME = /^history-(\d+)\.jsonl$/;
const IDX_MAGIC = 0x49484253; // "SBHI"
const IDX_HEADER = 32;
const IDX_ENTRY = 16;

export interface HistoryOptions {
  /** Rotate the current file at this size (default 16 MiB). */
  maxBytes?: number;
  /** Rotate the current file once its first line is this old (default 1 h): bounds how long a text outlives retention. */
  maxAgeMs?: number;
}

interface ClosedFile {
  n: number;
  /** Sorted entries: [hash: 8 bytes][offset: u32][length: u32]. */
  index: Buffer;
  /** Newest finishedAt in the file. */
  newest: number;
  scrubbed: boolean;
}

function hashId(id: string): Buffer {
  return createHash('sha1').update(id).digest().subarray(0, 8);
}

export function historyFileName(n: number): string {
  return `history-${n}.jsonl`;
}

export class HistoryLog {
  readonly #fs: FileSystem;
  readonly dir: string;
  readonly #maxBytes: number;
  readonly #maxAgeMs: number;
  readonly #closed: ClosedFile[] = [];
  /** The file being appended to. */
  #n = 1;
  #handle: FileHandle | null = null;
  #size = 0;
  #oldest = Number.POSITIVE_INFINITY;
  #newest = 0;
  /** id -> [offset, length, status] of its newest line in the current file */
  #current = new Map<string, readonly [number, number, string]>();
  /** Appends in order, one at a time. */
  #chain: Promise<void> = Promise.resolve();

  private constructor(fs: FileSystem, dir: string, options: HistoryOptions) {
    this.#fs = fs;
    this.dir = dir;
    this.#maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    this.#maxAgeMs = options.maxAgeMs ?? 60 * 60 * 1000;
  }

  /** Loads the indexes (building any that a crash left missing) and cuts a torn last line. */
  static async open(fs: FileSystem, dir: string, options: HistoryOptions = {}): Promise<HistoryLog> {
    const log = new HistoryLog(fs, dir, options);
    const names = await fs.readdir(dir);
    const numbers = names
      .map((f) => NAME.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const last = numbers.at(-1);
    for (const n of numbers) {
      const hasIndex = names.includes(`history-${n}.idx`);
      if (n === last && !hasIndex) {
        await log.#resume(n);
        continue;
      }
      log.#closed.push(await log.#loadClosed(n, hasIndex));
    }
    if (log.#handle === null) await log.#start((last ?? 0) + 1);
    return log;
  }

  /** History files, oldest first (names). */
  async files(): Promise<string[]> {
    return (await this.#fs.readdir(this.dir))
      .filter((f) => NAME.test(f))
      .sort((a, b) => Number(NAME.exec(a)?.[1]) - Number(NAME.exec(b)?.[1]));
  }

  /** Whether the newest line for `id` has `status` (start-up uses it to write what a crash lost). */
  async hasLine(id: string, status: string): Promise<boolean> {
    const here = this.#current.get(id);
    if (here) return here[2] === status;
    return (await this.find(id))?.status === status;
  }

  /** Appends finished messages (in order); resolves when written (not yet fsync'd). */
  append(records: readonly MessageRecord[]): Promise<void> {
    if (records.length === 0) return this.#chain;
    const run = this.#chain.then(async () => {
      for (const m of records) {
        const line = Buffer.from(`${JSON.stringify(m)}\n`, 'utf8');
        try {
          await writeAll(this.#handle!, line);
        } catch (err) {
          // Part of the line may be in the file: cut it, so the next line starts where the index says.
          await this.#handle!.truncate(this.#size).catch(() => undefined);
          throw err;
        }
        this.#current.set(m.id, [this.#size, line.length - 1, m.status]);
        this.#size += line.length;
        const at = m.finishedAt ?? m.createdAt;
        this.#oldest = Math.min(this.#oldest, at);
        this.#newest = Math.max(this.#newest, at);
      }
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * Rotates the current file if it is big or old enough (`now` on the caller's clock), or when
   * everything in it finished before `expiredBefore` (so retention can rewrite it).
   */
  maybeRotate(now: number, expiredBefore = Number.NEGATIVE_INFINITY): Promise<void> {
    const run = this.#chain.then(async () => {
      if (this.#current.size === 0) return;
      const due =
        this.#size >= this.#maxBytes || now - this.#oldest >= this.#maxAgeMs || this.#newest < expiredBefore;
      if (due) await this.#rotate();
    });
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** fsync of the current file: called before the journal segments holding its lines are dropped. */
  sync(): Promise<void> {
    const run = this.#chain.then(() => this.#handle?.sync());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /**
   * The newest line for `id`. It does not wait for appends in progress: a line being written is
   * not found yet (its message is still in the outbox's memory of recently finished ones).
   */
  async find(id: string): Promise<MessageRecord | undefined> {
    const here = this.#current.get(id);
    if (here) return this.#read(this.#n, here[0], here[1], id);
    const hash = hashId(id);
    for (let i = this.#closed.length - 1; i >= 0; i--) {
      const file = this.#closed[i]!;
      let at = findHash(file.index, hash);
      if (at < 0) continue;
      while (at > 0 && file.index.compare(hash, 0, 8, (at - 1) * IDX_ENTRY, (at - 1) * IDX_ENTRY + 8) === 0)
        at--;
      for (; at * IDX_ENTRY < file.index.length; at++) {
        const o = at * IDX_ENTRY;
        if (file.index.compare(hash, 0, 8, o, o + 8) !== 0) break;
        const found = await this.#read(
          file.n,
          file.index.readUInt32LE(o + 8),
          file.index.readUInt32LE(o + 12),
          id,
        );
        if (found) return found;
      }
    }
    return undefined;
  }

  /**
   * Retention: rewrites each closed file whose every message finished before `before` with the
   * texts removed (once per file: a file is rewritten at most once in its life).
   */
  async scrubTexts(before: number, note: string): Promise<number> {
    let files = 0;
    for (const file of this.#closed) {
      if (file.scrubbed || file.newest >= before) continue;
      await this.#chain;
      const lines = await this.#lines(file.n);
      const records = lines.map(({ record }) => withoutText(record, note));
      const built = buildFile(records);
      await writeFileAtomic(this.#fs, this.dir, historyFileName(file.n), built.bytes);
      const index = buildIndex(built.entries, file.newest, true, built.bytes.length);
      await writeFileAtomic(this.#fs, this.dir, `history-${file.n}.idx`, index);
      file.index = index.subarray(IDX_HEADER);
      file.scrubbed = true;
      files++;
    }
    return files;
  }

  async close(): Promise<void> {
    await this.#chain;
    const handle = this.#handle;
    this.#handle = null;
    if (handle) {
      await handle.sync();
      await handle.close();
    }
  }

  async #read(n: number, offset: number, length: number, id: string): Promise<MessageRecord | undefined> {
    const bytes = await this.#fs.readAt(join(this.dir, historyFileName(n)), offset, length);
    try {
      const m = JSON.parse(bytes.toString('utf8')) as MessageRecord;
      return m.id === id ? m : undefined;
    } catch {
      return undefined;
    }
  }

  async #lines(n: number): Promise<{ record: MessageRecord; offset: number; length: number }[]> {
    let bytes: Buffer;
    try {
      bytes = await this.#fs.readFile(join(this.dir, historyFileName(n)));
    } catch (err) {
      if (isNotFound(err)) return [];
      throw err;
    }
    const out: { record: MessageRecord; offset: number; length: number }[] = [];
    let start = 0;
    for (;;) {
      const end = bytes.indexOf(10, start);
      if (end < 0) break;
      try {
        out.push({
          record: JSON.parse(bytes.toString('utf8', start, end)),
          offset: start,
          length: end - start,
        });
      } catch {
        // a line cut by a crash in an older file: its message is in the journal or a later line
      }
      start = end + 1;
    }
    return out;
  }

  async #loadClosed(n: number, hasIndex: boolean): Promise<ClosedFile> {
    if (hasIndex) {
      const idx = await this.#fs.readFile(join(this.dir, `history-${n}.idx`));
      const size = await this.#fileSize(n);
      if (idx.length >= IDX_HEADER && idx.readUInt32LE(0) === IDX_MAGIC && idx.readUInt32LE(24) === size) {
        return {
          n,
          index: idx.subarray(IDX_HEADER),
          newest: idx.readDoubleLE(8),
          scrubbed: idx.readUInt32LE(16) === 1,
        };
      }
    }
    // Missing or stale (a crash between a rewrite and its index): rebuild it from the file.
    const lines = await this.#lines(n);
    const newest = lines.reduce((t, l) => Math.max(t, l.record.finishedAt ?? l.record.createdAt), 0);
    const scrubbed = lines.every((l) => l.record.text === null);
    const size = await this.#fileSize(n);
    const index = buildIndex(
      lines.map((l) => [l.record.id, l.offset, l.length] as const),
      newest,
      scrubbed,
      size,
    );
    await writeFileAtomic(this.#fs, this.dir, `history-${n}.idx`, index);
    return { n, index: index.subarray(IDX_HEADER), newest, scrubbed };
  }

  async #fileSize(n: number): Promise<number> {
    try {
      return await this.#fs.size(join(this.dir, historyFileName(n)));
    } catch (err) {
      if (isNotFound(err)) return 0;
      throw err;
    }
  }

  /** Reopens the last file for appending, cutting a line torn by a crash. */
  async #resume(n: number): Promise<void> {
    const lines = await this.#lines(n);
    const end = lines.length === 0 ? 0 : lines.at(-1)!.offset + lines.at(-1)!.length + 1;
    this.#n = n;
    this.#handle = await this.#fs.open(join(this.dir, historyFileName(n)), 'append');
    if (end !== (await this.#fileSize(n))) await this.#handle.truncate(end);
    this.#size = end;
    for (const { record, offset, length } of lines) {
      this.#current.set(record.id, [offset, length, record.status]);
      const at = record.finishedAt ?? record.createdAt;
      this.#oldest = Math.min(this.#oldest, at);
      this.#newest = Math.max(this.#newest, at);
    }
  }

  async #start(n: number): Promise<void> {
    this.#n = n;
    this.#handle = await this.#fs.open(join(this.dir, historyFileName(n)), 'append');
    await this.#fs.syncDir(this.dir);
    this.#size = 0;
    this.#current = new Map();
    this.#oldest = Number.POSITIVE_INFINITY;
    this.#newest = 0;
  }

  async #rotate(): Promise<void> {
    const handle = this.#handle!;
    await handle.sync();
    await handle.close();
    const entries = [...this.#current].map(([id, [offset, length]]) => [id, offset, length] as const);
    const index = buildIndex(entries, this.#newest, false, this.#size);
    await writeFileAtomic(this.#fs, this.dir, `history-${this.#n}.idx`, index);
    this.#closed.push({
      n: this.#n,
      index: index.subarray(IDX_HEADER),
      newest: this.#newest,
      scrubbed: false,
    });
    await this.#start(this.#n + 1);
  }
}

function buildFile(records: readonly MessageRecord[]): {
  bytes: Buffer;
  entries: (readonly [string, number, number])[];
} {
  const parts: Buffer[] = [];
  const entries: (readonly [string, number, number])[] = [];
  let offset = 0;
  for (const m of records) {
    const line = Buffer.from(`${JSON.stringify(m)}\n`, 'utf8');
    entries.push([m.id, offset, line.length - 1]);
    parts.push(line);
    offset += line.length;
  }
  return { bytes: Buffer.concat(parts), entries };
}

function buildIndex(
  entries: readonly (readonly [string, number, number])[],
  newest: number,
  scrubbed: boolean,
  fileSize: number,
): Buffer {
  const rows = entries.map(([id, offset, length]) => ({ hash: hashId(id), offset, length }));
  rows.sort((a, b) => Buffer.compare(a.hash, b.hash));
  const buf = Buffer.alloc(IDX_HEADER + rows.length * IDX_ENTRY);
  buf.writeUInt32LE(IDX_MAGIC, 0);
  buf.writeUInt32LE(rows.length, 4);
  buf.writeDoubleLE(newest, 8);
  buf.writeUInt32LE(scrubbed ? 1 : 0, 16);
  buf.writeUInt32LE(fileSize, 24);
  rows.forEach((r, i) => {
    const o = IDX_HEADER + i * IDX_ENTRY;
    r.hash.copy(buf, o);
    buf.writeUInt32LE(r.offset, o + 8);
    buf.writeUInt32LE(r.length, o + 12);
  });
  return buf;
}

/** Index of an entry with `hash` in a sorted entry buffer, or -1. */
function findHash(index: Buffer, hash: Buffer): number {
  let lo = 0;
  let hi = index.length / IDX_ENTRY - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const o = mid * IDX_ENTRY;
    const c = index.compare(hash, 0, 8, o, o + 8);
    if (c === 0) return mid;
    if (c > 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return -1;
}
