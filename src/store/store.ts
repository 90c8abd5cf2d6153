// The lowdb store with group commit: mutations made in one tick go out in one write, and whoever
// waits on commit() learns of durability only after the write that holds their change. A
// transaction (failover) writes a changed copy first and touches memory only once that copy is
// on disk: all or nothing.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Adapter, Low } from 'lowdb';
import { DurableJSONFile } from './durable-file.ts';
import { type DataDirLock, lockDataDir } from './lock.ts';
import { emptyStore, type StoreData } from './schema.ts';

export interface StoreOptions {
  /** fsync every commit (default true). */
  fsync?: boolean;
  /** For tests: wraps the file adapter (e.g. to make a write fail). */
  wrapAdapter?: (adapter: Adapter<StoreData>) => Adapter<StoreData>;
  /** Take the data dir lock (default true). */
  lock?: boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class Store {
  readonly dir: string;
  readonly file: string;
  readonly #db: Low<StoreData>;
  readonly #lock: DataDirLock | null;
  #waiters: Waiter[] = [];
  #scheduled = false;
  /** The write in progress, if any; writes never overlap. */
  #chain: Promise<void> = Promise.resolve();
  #closed = false;
  /** Figures for the performance report and benchmarks. */
  readonly stats = { commits: 0, transactions: 0, lastCommitMs: 0, totalCommitMs: 0 };

  private constructor(dir: string, db: Low<StoreData>, lock: DataDirLock | null) {
    this.dir = dir;
    this.file = join(dir, 'switchboard.json');
    this.#db = db;
    this.#lock = lock;
  }

  /**
   * Opens (or creates) the store in `dataDir`. Throws SB_ERR_STORE_CORRUPT naming the file when it
   * cannot be parsed (the file is left as it is) and SB_ERR_STORE_LOCKED when another live process
   * owns the dir.
   */
  static async open(dataDir: string, options: StoreOptions = {}): Promise<Store> {
    const dir = resolve(dataDir);
    mkdirSync(dir, { recursive: true });
    const lock = options.lock === false ? null : lockDataDir(dir);
    try {
      const file = new DurableJSONFile(join(dir, 'switchboard.json'), { fsync: options.fsync ?? true });
      const adapter = options.wrapAdapter ? options.wrapAdapter(file) : file;
      // Low is built directly: JSONFilePreset silently keeps data in memory under NODE_ENV=test.
      const db = new Low<StoreData>(adapter, emptyStore());
      await db.read();
      const store = new Store(dir, db, lock);
      await store.commit(); // creates the file at the first start, proves the dir is writable
      return store;
    } catch (err) {
      lock?.release();
      throw err;
    }
  }

  /** The live document. Mutate it, then call commit() and await durability. */
  get data(): StoreData {
    return this.#db.data;
  }

  /** Resolves once everything mutated so far is on disk (one write for everything in this tick). */
  commit(): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('store is closed'));
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#chain = this.#chain.then(async () => {
      this.#scheduled = false;
      const waiters = this.#waiters;
      this.#waiters = [];
      if (waiters.length === 0) return;
      const started = performance.now();
      try {
        await this.#db.write();
        this.#record(started);
        for (const w of waiters) w.resolve();
      } catch (err) {
        for (const w of waiters) w.reject(err);
      }
    });
  }

  /**
   * Applies `change` atomically: it runs on a copy, the copy is written, and only then does it run
   * on the live document. If the write throws, neither the file nor memory changed. `change` must
   * decide from the document it is given (it runs twice), and its live result is returned.
   */
  transaction<T>(change: (data: StoreData) => T): Promise<T> {
    const run = this.#chain.then(async () => {
      const copy = structuredClone(this.#db.data);
      change(copy);
      const started = performance.now();
      await this.#db.adapter.write(copy);
      this.#record(started);
      this.stats.transactions++;
      return change(this.#db.data);
    });
    this.#chain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  #record(started: number): void {
    const ms = performance.now() - started;
    this.stats.commits++;
    this.stats.lastCommitMs = ms;
    this.stats.totalCommitMs += ms;
  }

  /** Commits what is left and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.commit();
      await this.#chain;
    } finally {
      this.#closed = true;
      this.#lock?.release();
    }
  }
}
