// An in-memory file system for the store's file layer, with a page cache and a disk: writes land
// in the cache, fsync copies a file to the disk, creates/renames/unlinks reach the disk only when
// their directory is fsync'd. crash() keeps what the disk has (plus, by the seeded coin, a torn
// prefix of what was written but not synced). Faults: EIO or ENOSPC on write or fsync, short
// writes, a full disk, a slow disk (on the simulation's clock). A failed fsync behaves as Linux
// did to PostgreSQL: the cached data stays readable but is never written, even by a later fsync.
import { dirname } from 'node:path';
import type { Clock } from '../../actors/clock.ts';
import type { FileHandle, FileSystem } from '../../src/store/files.ts';

export type FaultOp = 'write' | 'sync' | 'open' | 'rename' | 'unlink' | 'syncDir' | 'read';

export interface FaultRule {
  op: FaultOp;
  /** Error code to throw (EIO, ENOSPC ...). */
  code: string;
  /** Only for paths containing this. */
  path?: string;
  /** How many times it fires (default: until cleared). */
  times?: number;
  /** For writes: write this many bytes first, then fail the next write call (a short write). */
  shortBytes?: number;
}

interface Inode {
  cached: Buffer;
  durable: Buffer;
  /** Bytes [from, to) a failed fsync dropped: a later fsync writes zeros there. */
  lost: { from: number; to: number } | null;
}

function errno(code: string, op: string, path: string): NodeJS.ErrnoException {
  const messages: Record<string, string> = {
    EIO: 'i/o error',
    ENOSPC: 'no space left on device',
    ENOENT: 'no such file or directory',
  };
  return Object.assign(new Error(`${code}: ${messages[code] ?? 'error'}, ${op} '${path}'`), { code });
}

export class SimFileSystem implements FileSystem {
  readonly #inodes = new Map<number, Inode>();
  /** path -> inode, as the running system sees it */
  readonly #names = new Map<string, number>();
  /** path -> inode, as the disk has it */
  readonly #durableNames = new Map<string, number>();
  readonly #dirs = new Set<string>();
  #nextInode = 1;
  #dead = false;
  rules: FaultRule[] = [];
  /** Bytes the disk holds at most (cached content counts): beyond it writes fail with ENOSPC. */
  capacity = Number.POSITIVE_INFINITY;
  /** Simulated latency of every operation (a slow disk), on `clock`. */
  latencyMs = 0;
  /** Counts of operations, for coverage. */
  readonly counts: Record<string, number> = {};

  constructor(readonly clock?: Clock) {}

  // --- test controls --------------------------------------------------------------------------

  fail(rule: FaultRule): void {
    this.rules.push(rule);
  }

  heal(): void {
    this.rules = [];
    this.capacity = Number.POSITIVE_INFINITY;
    this.latencyMs = 0;
  }

  /** Bytes in use (cached contents of files that have a name). */
  get used(): number {
    let n = 0;
    for (const id of new Set(this.#names.values())) n += this.#inodes.get(id)!.cached.length;
    return n;
  }

  /**
   * The machine loses power: a new file system with what the disk holds. `torn` decides, per file
   * with unsynced appended bytes, how many of them made it (0 .. all), e.g. from a seeded PRNG.
   * This instance dies: every later call on it or its handles fails.
   */
  crash(torn: (unsynced: number) => number = () => 0): SimFileSystem {
    this.#dead = true;
    return this.image(torn);
  }

  /** What a crash now would leave on the disk, without crashing (this instance lives on). */
  image(torn: (unsynced: number) => number = () => 0): SimFileSystem {
    const next = new SimFileSystem(this.clock);
    for (const d of this.#dirs) next.#dirs.add(d);
    const copied = new Map<number, number>();
    for (const [path, id] of this.#durableNames) {
      let nid = copied.get(id);
      if (nid === undefined) {
        const inode = this.#inodes.get(id)!;
        let content = Buffer.from(inode.durable);
        const extra = inode.cached.length - inode.durable.length;
        // Pages a failed fsync dropped are clean in the cache: they never reach the disk.
        if (
          extra > 0 &&
          !inode.lost &&
          inode.cached.subarray(0, inode.durable.length).equals(inode.durable)
        ) {
          const keep = Math.max(0, Math.min(extra, torn(extra)));
          content = Buffer.concat([
            content,
            inode.cached.subarray(inode.durable.length, inode.durable.length + keep),
          ]);
        }
        nid = next.#nextInode++;
        next.#inodes.set(nid, { cached: content, durable: Buffer.from(content), lost: null });
        copied.set(id, nid);
      }
      next.#names.set(path, nid);
      next.#durableNames.set(path, nid);
    }
    return next;
  }

  /** The content of a file as the running system sees it (tests). */
  peek(path: string): Buffer | undefined {
    const id = this.#names.get(path);
    return id === undefined ? undefined : Buffer.from(this.#inodes.get(id)!.cached);
  }

  /** Overwrites a file (tests: corrupt it, cut it), on the disk too. */
  poke(path: string, content: Buffer): void {
    let id = this.#names.get(path);
    if (id === undefined) {
      id = this.#nextInode++;
      this.#names.set(path, id);
      this.#durableNames.set(path, id);
    }
    this.#inodes.set(id, { cached: Buffer.from(content), durable: Buffer.from(content), lost: null });
  }

  list(dir: string): string[] {
    return [...this.#names.keys()]
      .filter((p) => dirname(p) === dir)
      .map((p) => p.slice(dir.length + 1))
      .sort();
  }

  // --- FileSystem -----------------------------------------------------------------------------

  async #enter(op: FaultOp, path: string): Promise<FaultRule | null> {
    this.counts[op] = (this.counts[op] ?? 0) + 1;
    if (this.latencyMs > 0 && this.clock) {
      const clock = this.clock;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, this.latencyMs));
    } else {
      await Promise.resolve();
    }
    if (this.#dead) throw errno('EIO', op, `${path} (the machine crashed)`);
    const rule = this.rules.find((r) => r.op === op && (r.path === undefined || path.includes(r.path)));
    if (!rule) return null;
    if (rule.times !== undefined && --rule.times <= 0) this.rules = this.rules.filter((r) => r !== rule);
    if (rule.shortBytes !== undefined && op === 'write') return rule;
    throw errno(rule.code, op, path);
  }

  async readFile(path: string): Promise<Buffer> {
    await this.#enter('read', path);
    const id = this.#names.get(path);
    if (id === undefined) throw errno('ENOENT', 'open', path);
    return Buffer.from(this.#inodes.get(id)!.cached);
  }

  async readAt(path: string, offset: number, length: number): Promise<Buffer> {
    const all = await this.readFile(path);
    return all.subarray(offset, offset + length);
  }

  async size(path: string): Promise<number> {
    const id = this.#names.get(path);
    if (id === undefined) throw errno('ENOENT', 'stat', path);
    return this.#inodes.get(id)!.cached.length;
  }

  async open(path: string, mode: 'append' | 'truncate'): Promise<FileHandle> {
    await this.#enter('open', path);
    let id = this.#names.get(path);
    if (id === undefined) {
      if (!this.#dirs.has(dirname(path))) throw errno('ENOENT', 'open', path);
      id = this.#nextInode++;
      this.#inodes.set(id, { cached: Buffer.alloc(0), durable: Buffer.alloc(0), lost: null });
      this.#names.set(path, id);
    } else if (mode === 'truncate') {
      // O_TRUNC drops every page, the clean-but-unwritten ones a failed fsync left included.
      const inode = this.#inodes.get(id)!;
      inode.cached = Buffer.alloc(0);
      inode.lost = null;
    }
    const inode = this.#inodes.get(id)!;
    let closed = false;
    const check = (op: string) => {
      if (closed) throw errno('EBADF', op, path);
    };
    return {
      write: async (data) => {
        const rule = await this.#enter('write', path);
        check('write');
        let n = data.length;
        if (rule?.shortBytes !== undefined) {
          // A short write: part of the data lands, and the next write call fails.
          n = Math.min(n, rule.shortBytes);
          this.rules = [
            { op: 'write', code: rule.code, times: 1, ...(rule.path ? { path: rule.path } : {}) },
            ...this.rules.filter((r) => r !== rule),
          ];
        }
        const room = this.capacity - this.used;
        if (room <= 0) throw errno('ENOSPC', 'write', path);
        n = Math.min(n, room);
        inode.cached = Buffer.concat([inode.cached, Buffer.from(data.subarray(0, n))]);
        return n;
      },
      sync: async () => {
        try {
          await this.#enter('sync', path);
        } catch (err) {
          // The kernel drops the dirty pages it could not write and reports it once.
          if (inode.cached.length > inode.durable.length) {
            inode.lost = { from: inode.durable.length, to: inode.cached.length };
          }
          throw err;
        }
        check('sync');
        const content = Buffer.from(inode.cached);
        // Pages dropped by a failed fsync are clean in the cache: they are never written.
        if (inode.lost) content.fill(0, inode.lost.from, Math.min(inode.lost.to, content.length));
        inode.durable = content;
      },
      truncate: async (length) => {
        await this.#enter('write', path);
        check('truncate');
        inode.cached = inode.cached.subarray(0, length);
        if (inode.lost && inode.lost.from >= length) inode.lost = null;
        else if (inode.lost) inode.lost = { from: inode.lost.from, to: Math.min(inode.lost.to, length) };
      },
      close: async () => {
        closed = true;
      },
    };
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#enter('rename', from);
    const id = this.#names.get(from);
    if (id === undefined) throw errno('ENOENT', 'rename', from);
    this.#names.delete(from);
    this.#names.set(to, id);
  }

  async unlink(path: string): Promise<void> {
    await this.#enter('unlink', path);
    if (!this.#names.delete(path)) throw errno('ENOENT', 'unlink', path);
  }

  async readdir(dir: string): Promise<string[]> {
    await this.#enter('read', dir);
    return this.list(dir);
  }

  async mkdir(dir: string): Promise<void> {
    await this.#enter('open', dir);
    this.#dirs.add(dir);
  }

  async syncDir(dir: string): Promise<void> {
    await this.#enter('syncDir', dir);
    for (const path of [...this.#durableNames.keys()])
      if (dirname(path) === dir && !this.#names.has(path)) this.#durableNames.delete(path);
    for (const [path, id] of this.#names) if (dirname(path) === dir) this.#durableNames.set(path, id);
  }
}
