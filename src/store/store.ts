// The store (docs/architecture.md, "The store"): state in memory, every change a small op appended to the
// journal, one record and one fsync per commit group, and callers told of durability only after
// that fsync. A transaction applies at once (the caller reads its own writes) and is atomic: its
// ops travel in one record. A failed write is a crash without dying: memory is rolled back to what
// the disk holds (the undo of every group not on disk), every caller of those groups gets
// SB_ERR_STORE_UNAVAILABLE, writes are refused until a test write succeeds, and then the state is
// loaded from the disk exactly as at start-up. switchboard.json (lowdb) is a checkpoint written off
// the hot path by a worker; segments it covers are then deleted.
import { join, resolve } from 'node:path';
import { type Clock, realClock } from '../../actors/clock.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { CHECKPOINT_FILE, type LoadedState, loadState, writeCheckpoint } from './checkpoint.ts';
import { runCheckpointWorker } from './checkpoint-runner.ts';
import { type FileHandle, type FileSystem, nodeFileSystem, writeAll } from './files.ts';
import { HistoryLog, type HistoryOptions } from './history.ts';
import { encodeRecord, segmentName, segmentNumbers } from './journal.ts';
import { type DataDirLock, lockDataDir } from './lock.ts';
import type { CollectionName, Collections, MessageRecord, Op } from './schema.ts';
import type { StoreState, UndoEntry } from './state.ts';

export interface StoreOptions {
  /** The file layer (default: the real file system). */
  fs?: FileSystem;
  /** fsync on commit (default true; only for the default file layer). */
  fsync?: boolean;
  /** Take the data dir lock (default true; the simulation, which has no processes, turns it off). */
  lock?: boolean;
  /** Timers for retries and periodic checkpoints (default real time). */
  clock?: Clock;
  /** Runs the group flush soon (default setImmediate: everything changed in one tick is one record). */
  schedule?: (fn: () => void) => void;
  log?: Logger;
  /** Roll to a new journal segment past this size (default 32 MiB). */
  segmentBytes?: number;
  /** Fold closed segments into the checkpoint once they hold this much (default 64 MiB). */
  checkpointBytes?: number;
  /** Also checkpoint when the journal has anything older than this (default 10 min). */
  checkpointEveryMs?: number;
  /** Who writes checkpoints: a worker thread (default), inline (simulation, tests), or nobody. */
  checkpointer?: 'worker' | 'inline' | 'off';
  /** Backoff of the test writes after a failure: base and cap (default 100 ms, 5 s). */
  retryMs?: { base: number; max: number };
  /** Deep-freeze every value put (tests: a record mutated in place throws). */
  freeze?: boolean;
  history?: HistoryOptions;
}

export type StoreEvent =
  | { type: 'unavailable'; reason: string }
  | { type: 'recovered'; reason: string }
  | { type: 'committed'; ms: number; bytes: number; ops: number }
  | { type: 'checkpointed'; ms: number; messages: number }
  | { type: 'checkpoint.failed'; reason: string };

export interface StoreStats {
  commits: number;
  bytes: number;
  lastCommitMs: number;
  totalCommitMs: number;
  checkpoints: number;
  faults: number;
  recoveries: number;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface Group {
  /** On disk: its waiters were answered (a roll may still run after it). */
  durable?: boolean;
  ops: Op[];
  undo: UndoEntry[];
  waiters: Waiter[];
  archived: MessageRecord[];
}

/** The changes of one transaction; applied to memory as they are made. */
export class Transaction {
  constructor(
    readonly store: Store,
    readonly group: Group,
    readonly state: StoreState,
    readonly freeze: boolean,
  ) {}

  get<C extends CollectionName>(c: C, key: string): Collections[C] | undefined {
    return this.state.get(c, key);
  }

  put<C extends CollectionName>(c: C, key: string, value: Collections[C]): void {
    if (this.freeze) deepFreeze(value);
    this.#apply(['put', c, key, value]);
  }

  del(c: CollectionName, key: string): void {
    if (this.state.get(c, key) === undefined) return;
    this.#apply(['del', c, key]);
  }

  /** A finished message leaves the live state for the history files. */
  archive(m: MessageRecord): void {
    if (this.freeze) deepFreeze(m);
    this.#apply(['archive', m]);
    this.group.archived.push(m);
  }

  /** Every contact of `from` now belongs to `to` (dropped when null); returns how many moved. */
  moveAffinity(from: string, to: string | null): number {
    const n = this.state.contactsOf(from).size;
    if (n > 0) this.#apply(['move', from, to]);
    return n;
  }

  #apply(op: Op): void {
    this.state.apply(op, this.group.undo);
    this.group.ops.push(op);
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function storeUnavailable(reason: string, cause?: unknown): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_STORE_UNAVAILABLE',
    `the store cannot write (${reason}): the request was not acknowledged; retry later with the same idempotency key`,
    503,
    cause === undefined ? undefined : { cause },
  );
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = err instanceof Error ? err.message : String(err);
  return e?.code && !message.startsWith(e.code) ? `${e.code}: ${message}` : message;
}

export class Store {
  readonly dir: string;
  readonly file: string;
  readonly stats: StoreStats = {
    commits: 0,
    bytes: 0,
    lastCommitMs: 0,
    totalCommitMs: 0,
    checkpoints: 0,
    faults: 0,
    recoveries: 0,
  };
  readonly #fs: FileSystem;
  readonly #lock: DataDirLock | null;
  readonly #clock: Clock;
  readonly #schedule: (fn: () => void) => void;
  readonly #log: Logger | undefined;
  readonly #options: StoreOptions;
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  readonly history: HistoryLog;
  #state: StoreState;
  /** Journal position: segment being appended to, its size, bytes known durable in it. */
  #seq: number;
  #handle: FileHandle | null = null;
  #durableBytes = 0;
  /** First segment not folded into the checkpoint. */
  #checkpointNext: number;
  /** Last commit group on disk. */
  #group: number;
  #staged: Group | null = null;
  #writing: Group | null = null;
  #flushScheduled = false;
  #available = true;
  #reason: string | null = null;
  #retries = 0;
  #retryTimer: unknown;
  #checkpointTimer: unknown;
  #checkpointing: Promise<void> | null = null;
  /** Journal bytes written since the last checkpoint started. */
  #sinceCheckpoint = 0;
  #closed = false;
  readonly #rollWaiters: Waiter[] = [];
  /** The cut after a failed write, while it runs. */
  #cut: Promise<void> | null = null;
  /** A recovery attempt in progress (close() waits for it). */
  #recovering: Promise<void> | null = null;
  /** Archived messages whose history lines failed to be written: no segment goes before they are. */
  #unwrittenHistory: MessageRecord[] = [];

  private constructor(
    dir: string,
    fs: FileSystem,
    lock: DataDirLock | null,
    options: StoreOptions,
    loaded: LoadedState,
    history: HistoryLog,
    seq: number,
  ) {
    this.dir = dir;
    this.file = join(dir, CHECKPOINT_FILE);
    this.#fs = fs;
    this.#lock = lock;
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#schedule = options.schedule ?? ((fn) => setImmediate(fn));
    this.#log = options.log;
    this.#state = loaded.state;
    this.#group = loaded.group;
    this.#checkpointNext = loaded.next;
    this.#seq = seq;
    this.history = history;
  }

  /**
   * Opens (or creates) the store in `dataDir`: loads the checkpoint, replays the journal (cutting a
   * torn tail, logged), and starts a new segment. Throws SB_ERR_STORE_CORRUPT naming the file and
   * offset when something before the tail is bad (nothing is changed), SB_ERR_STORE_LOCKED when
   * another live process owns the dir.
   */
  static async open(dataDir: string, options: StoreOptions = {}): Promise<Store> {
    const dir = resolve(dataDir);
    const fs = options.fs ?? nodeFileSystem({ fsync: options.fsync ?? true });
    await fs.mkdir(dir);
    const lock = options.lock === false ? null : lockDataDir(dir);
    try {
      const loaded = await loadState(fs, dir);
      const last = loaded.segments.at(-1);
      if (last?.torn) {
        options.log?.warn(
          {
            file: join(dir, segmentName(last.seq)),
            offset: last.torn.offset,
            cut: last.size - last.validBytes,
          },
          `journal: torn tail cut (${last.torn.reason}); everything before it was kept`,
        );
        const h = await fs.open(join(dir, segmentName(last.seq)), 'append');
        try {
          await h.truncate(last.validBytes);
          await h.sync();
        } finally {
          await h.close();
        }
      }
      // Segments the checkpoint already holds (a crash between writing it and deleting them).
      await removeSegmentsBefore(fs, dir, loaded.next);
      const history = await HistoryLog.open(fs, dir, options.history);
      await history.append(await missingLines(history, loaded.archived));
      const seq = (last?.seq ?? loaded.next - 1) + 1;
      const store = new Store(dir, fs, lock, options, loaded, history, seq);
      await store.#openSegment();
      if (!loaded.hasCheckpoint) {
        // The first start: an empty checkpoint, so the file exists and the dir is proven writable.
        await writeCheckpoint(fs, dir, seq);
        await removeSegmentsBefore(fs, dir, seq);
        store.#checkpointNext = seq;
      }
      store.#armCheckpointTimer();
      return store;
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  // --- reading --------------------------------------------------------------------------------

  get state(): StoreState {
    return this.#state;
  }

  get<C extends CollectionName>(c: C, key: string): Collections[C] | undefined {
    return this.#state.get(c, key);
  }

  map<C extends CollectionName>(c: C): ReadonlyMap<string, Collections[C]> {
    return this.#state.map(c);
  }

  /** A finished message from the history files (one indexed read). */
  archived(id: string): Promise<MessageRecord | undefined> {
    return this.history.find(id);
  }

  /**
   * Retention: removes the text of every archived message that finished before `before`, with
   * `note` in its history. Each history file is rewritten once, when all of it has expired; the
   * journal segments that still hold those texts go at the next checkpoint.
   */
  async removeArchivedTexts(before: number, note: string): Promise<number> {
    await this.history.maybeRotate(this.#clock.now(), before);
    return this.history.scrubTexts(before, note);
  }

  /** What the write loop is doing, for diagnostics. */
  diagnostics() {
    return {
      available: this.#available,
      closed: this.#closed,
      staged: this.#staged?.ops.length ?? null,
      writing: this.#writing
        ? { ops: this.#writing.ops.length, durable: Boolean(this.#writing.durable) }
        : null,
      rollWaiters: this.#rollWaiters.length,
      checkpointing: this.#checkpointing !== null,
      recovering: this.#recovering !== null,
      retryArmed: this.#retryTimer !== undefined,
      segment: this.#seq,
      durableBytes: this.#durableBytes,
    };
  }

  /** Changes are made that are not on disk yet (a group staged or being written). */
  get committing(): boolean {
    return Boolean(this.#staged?.ops.length) || Boolean(this.#writing && !this.#writing.durable);
  }

  get available(): boolean {
    return this.#available;
  }

  /** Why writes are refused, or null. */
  get unavailableReason(): string | null {
    return this.#reason;
  }

  onEvent(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: StoreEvent): void {
    for (const l of this.#listeners) l(event);
  }

  // --- writing --------------------------------------------------------------------------------

  /**
   * Runs `fn` now against the live state (its changes are visible at once) and resolves with its
   * result once they are on disk. All of a transaction's changes are in one journal record.
   * Rejects without running `fn` while the store is unavailable.
   */
  transaction<T>(fn: (tx: Transaction) => T): Promise<T> {
    if (this.#closed)
      return Promise.reject(new SwitchboardError('SB_ERR_STOPPING', 'the store is closed', 503));
    if (!this.#available) return Promise.reject(storeUnavailable(this.#reason ?? 'unknown'));
    const group = this.#staged ?? this.#newGroup();
    const opsMark = group.ops.length;
    const undoMark = group.undo.length;
    const archivedMark = group.archived.length;
    let result: T;
    try {
      result = fn(new Transaction(this, group, this.#state, this.#options.freeze ?? false));
    } catch (err) {
      this.#state.undo(group.undo.slice(undoMark));
      group.ops.length = opsMark;
      group.undo.length = undoMark;
      group.archived.length = archivedMark;
      return Promise.reject(err);
    }
    if (group.ops.length === opsMark) return this.flushed().then(() => result);
    return new Promise<T>((resolve, reject) => {
      group.waiters.push({ resolve: () => resolve(result), reject });
    });
  }

  /** Resolves once everything changed so far is on disk; rejects if that write fails. */
  flushed(): Promise<void> {
    const last = this.#staged?.ops.length ? this.#staged : this.#writing;
    if (!last || last.durable) {
      return this.#available ? Promise.resolve() : Promise.reject(storeUnavailable(this.#reason ?? ''));
    }
    return new Promise((resolve, reject) => last.waiters.push({ resolve, reject }));
  }

  #newGroup(): Group {
    const group: Group = { ops: [], undo: [], waiters: [], archived: [] };
    this.#staged = group;
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      this.#schedule(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
    return group;
  }

  #flush(): void {
    if (this.#writing || !this.#available) return;
    const group = this.#staged;
    if (!group || group.ops.length === 0) {
      this.#staged = null;
      for (const w of group?.waiters ?? []) w.resolve();
      if (this.#rollWaiters.length > 0) {
        this.#writing = { ops: [], undo: [], waiters: [], archived: [] };
        this.#maybeRoll().then(
          () => {
            this.#writing = null;
            if (this.#staged || this.#rollWaiters.length > 0) this.#flush();
          },
          (err: unknown) => this.#fail(err, null),
        );
      }
      return;
    }
    this.#staged = null;
    this.#writing = group;
    const n = this.#group + 1;
    const frame = encodeRecord({ n, ops: group.ops });
    const started = performance.now();
    this.#append(frame).then(
      async () => {
        this.#group = n;
        const ms = performance.now() - started;
        this.stats.commits++;
        this.stats.bytes += frame.length;
        this.stats.lastCommitMs = ms;
        this.stats.totalCommitMs += ms;
        this.#sinceCheckpoint += frame.length;
        // History lines follow their durable archive op; the journal is their safety net.
        if (group.archived.length > 0) {
          if (this.#unwrittenHistory.length > 0) {
            // a newer line for the same message supersedes an unwritten older one
            const newer = new Set(group.archived.map((m) => m.id));
            this.#unwrittenHistory = this.#unwrittenHistory.filter((m) => !newer.has(m.id));
          }
          void this.history
            .append(group.archived)
            .catch((err: unknown) => this.#historyFailed(err, group.archived));
        }
        group.durable = true;
        for (const w of group.waiters) w.resolve();
        this.#emit({ type: 'committed', ms, bytes: frame.length, ops: group.ops.length });
        try {
          await this.#maybeRoll();
        } catch (err) {
          this.#fail(err, null);
          return;
        }
        this.#writing = null;
        if (this.#staged || this.#rollWaiters.length > 0) this.#flush();
      },
      (err: unknown) => this.#fail(err, group),
    );
  }

  async #append(frame: Buffer): Promise<void> {
    const handle = this.#handle;
    if (!handle) throw Object.assign(new Error('no journal segment is open'), { code: 'EIO' });
    await writeAll(handle, frame);
    await handle.sync();
    this.#durableBytes += frame.length;
  }

  async #openSegment(): Promise<void> {
    this.#handle = await this.#fs.open(join(this.dir, segmentName(this.#seq)), 'append');
    await this.#fs.syncDir(this.dir);
    this.#durableBytes = 0;
  }

  /** Rolls to a new segment when the current one is full or a roll was asked for; runs between writes. */
  async #maybeRoll(): Promise<void> {
    const asked = this.#rollWaiters.splice(0);
    const full = this.#durableBytes >= (this.#options.segmentBytes ?? 32 * 1024 * 1024);
    try {
      if ((full || asked.length > 0) && this.#durableBytes > 0) await this.#roll();
    } catch (err) {
      for (const w of asked) w.reject(err);
      throw err;
    }
    for (const w of asked) w.resolve();
    if (full && this.#sinceCheckpoint >= (this.#options.checkpointBytes ?? 64 * 1024 * 1024))
      void this.checkpoint();
  }

  /** Asks the write loop to start a new segment before its next write. */
  #requestRoll(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#rollWaiters.push({ resolve, reject });
      if (!this.#writing) this.#flush();
    });
  }

  async #roll(): Promise<void> {
    const old = this.#handle;
    this.#handle = null;
    await old?.close();
    this.#seq++;
    await this.#openSegment();
  }

  /**
   * A write or fsync failed: whatever it held may or may not be on the disk, and PostgreSQL's
   * lesson is that a retried fsync can lie. So memory goes back to the last durable group, every
   * caller not yet answered gets an error, and writes stop until a test write succeeds.
   */
  #fail(err: unknown, failed: Group | null): void {
    const reason = describe(err);
    const groups = [failed, this.#staged].filter((g): g is Group => g !== null);
    this.#writing = null;
    this.#staged = null;
    this.#available = false;
    this.#reason = reason;
    this.stats.faults++;
    for (const g of [...groups].reverse()) this.#state.undo(g.undo);
    this.#log?.error({ err, reason }, 'store write failed: writes refused until the disk takes a test write');
    this.#emit({ type: 'unavailable', reason });
    const error = storeUnavailable(reason, err);
    for (const g of groups) for (const w of g.waiters) w.reject(error);
    for (const w of this.#rollWaiters.splice(0)) w.reject(error);
    // Cut the segment back to its last durable record now: after a failed fsync the page cache may
    // still hold the refused record, and a process started on this disk would read it as valid.
    this.#cut = this.#cutBack().catch(() => undefined);
    this.#retryLater();
  }

  #historyFailed(err: unknown, records: readonly MessageRecord[]): void {
    // The archive ops are durable in the journal, which keeps its segments until these lines are
    // written (see checkpoint()); a restart writes them from the journal too.
    this.#unwrittenHistory.push(...records);
    this.#log?.error(
      { err, messages: records.length },
      'history append failed; the journal keeps those messages',
    );
  }

  /** Truncates the current segment to what is known to be on disk. */
  async #cutBack(): Promise<void> {
    const h = await this.#fs.open(join(this.dir, segmentName(this.#seq)), 'append');
    try {
      await h.truncate(this.#durableBytes);
      await h.sync();
    } finally {
      await h.close();
    }
  }

  #retryLater(): void {
    if (this.#closed || this.#retryTimer !== undefined) return;
    const { base, max } = this.#options.retryMs ?? { base: 100, max: 5_000 };
    const delay = Math.min(max, base * 2 ** this.#retries);
    this.#retries++;
    this.#retryTimer = this.#clock.setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#tryRecover();
    }, delay);
  }

  /**
   * The test write: cut the failed segment back to its last durable record, start a fresh one with
   * an empty record, fsync both. If that works the disk is back: load the state from it as at start-up.
   */
  async #tryRecover(): Promise<void> {
    if (this.#closed || this.#available) return;
    const run = this.#recover();
    this.#recovering = run;
    await run;
    this.#recovering = null;
  }

  async #recover(): Promise<void> {
    // Every await may see close(): a closed store must not write (another process may own the dir now).
    const closed = () => this.#closed;
    try {
      await this.#checkpointing?.catch(() => undefined);
      await this.#cut;
      if (closed()) return;
      const old = this.#handle;
      this.#handle = null;
      await old?.close().catch(() => undefined);
      await this.#cutBack();
      if (closed()) return;
      // Room for real commits, not just a tiny test record: a nearly full disk would otherwise flap
      // between "recovered" and the next failed commit, leaving a new segment each time.
      await probeWrite(this.#fs, this.dir);
      if (closed()) return;
      // A fresh segment: the old one saw a failed write and is never written again. 'truncate': a
      // failed earlier attempt may have left part of a record in it.
      const next = this.#seq + 1;
      const handle = await this.#fs.open(join(this.dir, segmentName(next)), 'truncate');
      try {
        await this.#fs.syncDir(this.dir);
        const n = this.#group + 1;
        const frame = encodeRecord({ n, ops: [] });
        if (closed()) throw new Error('closed');
        await writeAll(handle, frame);
        await handle.sync();
        // The test record is on disk: whatever fails next, the next record must follow it.
        this.#seq = next;
        this.#handle = handle;
        this.#durableBytes = frame.length;
        this.#group = n;
      } catch (err) {
        await handle.close().catch(() => undefined);
        throw err;
      }
      const loaded = await loadState(this.#fs, this.dir);
      if (closed()) return;
      await this.history.append(await missingLines(this.history, loaded.archived));
      this.#state = loaded.state;
      this.#group = loaded.group;
    } catch (err) {
      if (this.#closed) return;
      this.#log?.warn({ err: describe(err) }, 'store test write failed; retrying');
      this.#retryLater();
      return;
    }
    if (this.#closed) return;
    const reason = this.#reason ?? '';
    this.#available = true;
    this.#reason = null;
    this.#retries = 0;
    this.stats.recoveries++;
    this.#log?.warn({ after: reason }, 'store writable again: state reloaded from disk');
    this.#emit({ type: 'recovered', reason });
  }

  // --- checkpoints ----------------------------------------------------------------------------

  /** Folds every closed journal segment into switchboard.json, then deletes them. */
  checkpoint(): Promise<void> {
    if (this.#checkpointing) return this.#checkpointing;
    const upTo = this.#seq;
    if (upTo <= this.#checkpointNext || this.#options.checkpointer === 'off') return Promise.resolve();
    const started = performance.now();
    this.#sinceCheckpoint = 0;
    const run = (async () => {
      // The checkpoint supersedes the segments it folds, and they are the durable copy of the history
      // lines their archive ops wrote: those lines must be on disk before the checkpoint is, including
      // any whose write failed.
      if (this.#unwrittenHistory.length > 0) {
        const lines = this.#unwrittenHistory;
        await this.history.append(lines);
        this.#unwrittenHistory = this.#unwrittenHistory.slice(lines.length);
      }
      await this.history.sync();
      const result =
        this.#options.checkpointer === 'inline'
          ? await writeCheckpoint(this.#fs, this.dir, upTo)
          : await runCheckpointWorker(this.dir, upTo, this.#options.fsync ?? true);
      await this.history.maybeRotate(this.#clock.now());
      await removeSegmentsBefore(this.#fs, this.dir, upTo);
      this.#checkpointNext = upTo;
      this.stats.checkpoints++;
      const ms = performance.now() - started;
      this.#log?.info(
        { messages: result.messages, ms: Math.round(ms), journalFrom: upTo },
        'checkpoint written',
      );
      this.#emit({ type: 'checkpointed', ms, messages: result.messages });
    })();
    this.#checkpointing = run
      .catch((err: unknown) => {
        this.#log?.error({ err }, 'checkpoint failed; the journal still holds everything');
        this.#emit({ type: 'checkpoint.failed', reason: describe(err) });
      })
      .finally(() => {
        this.#checkpointing = null;
      });
    return this.#checkpointing;
  }

  /** Closes the current segment (if it holds anything) and checkpoints: the journal starts empty. */
  async compact(): Promise<void> {
    await this.#checkpointing;
    if (!this.#available) return;
    await this.#requestRoll();
    await this.checkpoint();
  }

  #armCheckpointTimer(): void {
    const every = this.#options.checkpointEveryMs ?? 10 * 60 * 1000;
    if (this.#options.checkpointer === 'off') return;
    this.#checkpointTimer = this.#clock.setTimeout(() => {
      this.#checkpointTimer = undefined;
      if (this.#closed) return;
      void this.compact()
        .catch(() => undefined)
        .finally(() => this.#armCheckpointTimer());
    }, every);
  }

  /** Commits what is pending, writes a checkpoint, closes files and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.flushed().catch(() => undefined);
      if (this.#available) await this.compact().catch(() => undefined);
      else await (this.#cut ?? this.#cutBack()).catch(() => undefined);
      await this.#checkpointing;
    } finally {
      this.#closed = true;
      await this.#recovering;
      if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
      if (this.#checkpointTimer !== undefined) this.#clock.clearTimeout(this.#checkpointTimer);
      await this.#handle?.close().catch(() => undefined);
      this.#handle = null;
      await this.history.close().catch(() => undefined);
      this.#lock?.release();
    }
  }

  /** Stops at once without writing anything more, as if the process died (a simulated crash; tests). */
  halt(): void {
    this.#closed = true;
    this.#available = false;
    if (this.#retryTimer !== undefined) this.#clock.clearTimeout(this.#retryTimer);
    if (this.#checkpointTimer !== undefined) this.#clock.clearTimeout(this.#checkpointTimer);
    this.#lock?.release();
  }
}

/** Writes, fsyncs and deletes 64 KiB: the disk takes writes again. */
async function probeWrite(fs: FileSystem, dir: string): Promise<void> {
  const file = join(dir, '.store-probe');
  const handle = await fs.open(file, 'truncate');
  try {
    await writeAll(handle, Buffer.alloc(64 * 1024));
    await handle.sync();
  } finally {
    await handle.close();
    await fs.unlink(file).catch(() => undefined);
  }
}

/** Archived messages whose last journal state is not the newest line in the history files. */
async function missingLines(
  history: HistoryLog,
  archived: readonly MessageRecord[],
): Promise<MessageRecord[]> {
  const last = new Map<string, MessageRecord>();
  for (const m of archived) {
    last.delete(m.id);
    last.set(m.id, m);
  }
  const out: MessageRecord[] = [];
  for (const m of last.values()) if (!(await history.hasLine(m.id, m.status))) out.push(m);
  return out;
}

async function removeSegmentsBefore(fs: FileSystem, dir: string, next: number): Promise<void> {
  const old = segmentNumbers(await fs.readdir(dir)).filter((s) => s < next);
  if (old.length === 0) return;
  for (const s of old) await fs.unlink(join(dir, segmentName(s)));
  await fs.syncDir(dir);
}
