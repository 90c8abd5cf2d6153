// The few file operations the store performs, behind one interface, so tests and the simulation can
// put a fault-injecting or in-memory file layer under the real store code (docs/architecture.md, "The store").
import { constants } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';

/** An open file the store appends to or writes whole. Writes go to the end of the file. */
export interface FileHandle {
  /** Appends `data`; resolves with the bytes written (fewer than asked is a short write). */
  write(data: Uint8Array): Promise<number>;
  /** Makes everything written so far durable (fsync). */
  sync(): Promise<void>;
  /** Cuts the file to `length` bytes. */
  truncate(length: number): Promise<void>;
  close(): Promise<void>;
}

export interface FileSystem {
  /** The whole file; rejects with code ENOENT when it does not exist. */
  readFile(path: string): Promise<Buffer>;
  /** `length` bytes from `offset` (fewer at the end of the file). */
  readAt(path: string, offset: number, length: number): Promise<Buffer>;
  /** Opens for appending ('append', created if missing) or empty ('truncate'). */
  open(path: string, mode: 'append' | 'truncate'): Promise<FileHandle>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Size in bytes; rejects with code ENOENT when it does not exist. */
  size(path: string): Promise<number>;
  /** Names in `dir` (not paths); [] when it does not exist. */
  readdir(dir: string): Promise<string[]>;
  mkdir(dir: string): Promise<void>;
  /** fsync of a directory: makes creates, renames and unlinks in it durable. */
  syncDir(dir: string): Promise<void>;
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** Writes `data` completely, looping over short writes. */
export async function writeAll(handle: FileHandle, data: Uint8Array): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const n = await handle.write(done === 0 ? data : data.subarray(done));
    if (n <= 0) throw Object.assign(new Error('write made no progress'), { code: 'EIO' });
    done += n;
  }
}

/**
 * Replaces `path` atomically and durably: a temp file is written and fsync'd, renamed over the
 * target, and the directory fsync'd (steno renames but never fsyncs; a rename alone survives a
 * process crash, not a power loss).
 */
export async function writeFileAtomic(
  fs: FileSystem,
  dir: string,
  name: string,
  data: Uint8Array,
): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  const handle = await fs.open(tmp, 'truncate');
  try {
    await writeAll(handle, data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(tmp, join(dir, name));
  await fs.syncDir(dir);
}

class NodeFileHandle implements FileHandle {
  constructor(private readonly handle: fsp.FileHandle) {}

  async write(data: Uint8Array): Promise<number> {
    const { bytesWritten } = await this.handle.write(data, 0, data.length, null);
    return bytesWritten;
  }

  sync(): Promise<void> {
    return this.handle.sync();
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real file system (node:fs/promises). `fsync: false` skips file and directory syncs (tests, benchmarks). */
export function nodeFileSystem(options: { fsync?: boolean } = {}): FileSystem {
  const fsync = options.fsync ?? true;
  return {
    readFile: (path) => fsp.readFile(path),
    async readAt(path, offset, length) {
      const handle = await fsp.open(path, 'r');
      try {
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        return buffer.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    },
    async open(path, mode) {
      const flags =
        mode === 'append'
          ? constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND
          : constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC;
      const handle = new NodeFileHandle(await fsp.open(path, flags, 0o600));
      if (fsync) return handle;
      return {
        write: (data) => handle.write(data),
        sync: async () => undefined,
        truncate: (length) => handle.truncate(length),
        close: () => handle.close(),
      };
    },
    size: async (path) => (await fsp.stat(path)).size,
    rename: (from, to) => fsp.rename(from, to),
    unlink: (path) => fsp.unlink(path),
    async readdir(dir) {
      try {
        return await fsp.readdir(dir);
      } catch (err) {
        if (isNotFound(err)) return [];
        throw err;
      }
    },
    async mkdir(dir) {
      await fsp.mkdir(dir, { recursive: true });
    },
    async syncDir(dir) {
      if (!fsync) return;
      const handle = await fsp.open(dir, constants.O_RDONLY);
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
  };
}
