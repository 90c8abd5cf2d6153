// Baileys' auth state for one master, on disk under <dataDir>/auth/<E.164>/: creds.json plus one
// file per signal key, each replaced atomically (temp file, fsync, rename, directory fsync).
// Written for switchboard instead of useMultiFileAuthState, which its own comment says is not for production.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type AuthenticationCreds,
  type AuthenticationState,
  BufferJSON,
  initAuthCreds,
  proto,
  type SignalDataSet,
  type SignalDataTypeMap,
} from 'baileys';
import { SwitchboardError } from '../../../src/errors.ts';

export const CREDS_FILE = 'creds.json';

/** Where a master's credentials live. */
export function authDir(dataDir: string, phone: string): string {
  return join(dataDir, 'auth', phone);
}

/**
 * True when the credentials in `dir` belong to a paired device: a pairing that never completed
 * leaves `me` set (the pairing-code flow sets it first) but no signed `account`.
 */
export function isPairedCreds(creds: Partial<AuthenticationCreds> | undefined): boolean {
  return Boolean(creds?.me?.id && creds.account);
}

/** Reads creds.json without opening the store (status pages, start-up checks). */
export function readPaired(dir: string): boolean {
  const file = join(dir, CREDS_FILE);
  if (!existsSync(file)) return false;
  try {
    return isPairedCreds(JSON.parse(readFileSync(file, 'utf8'), BufferJSON.reviver) as AuthenticationCreds);
  } catch {
    return false;
  }
}

export interface AuthStoreOptions {
  /** fsync every file and its directory (default true). */
  fsync?: boolean;
}

export class AuthStore {
  readonly state: AuthenticationState;
  readonly #dir: string;
  readonly #fsync: boolean;
  /** Keys read or written so far; null marks a key known to be absent. */
  readonly #cache = new Map<string, unknown>();
  /** The last write of each file: writes to one file are chained so an older one never lands last. */
  readonly #writes = new Map<string, Promise<void>>();
  #tmp = 0;

  private constructor(dir: string, creds: AuthenticationCreds, fsync: boolean) {
    this.#dir = dir;
    this.#fsync = fsync;
    this.state = {
      creds,
      keys: {
        get: (type, ids) => this.#get(type, ids),
        set: (data) => this.#set(data),
        clear: () => this.#clear(),
      },
    };
  }

  /** Opens (creating when absent) the store in `dir`; fresh credentials when it holds none. */
  static async open(dir: string, options: AuthStoreOptions = {}): Promise<AuthStore> {
    await mkdir(dir, { recursive: true });
    // A crash between write and rename leaves a temp file behind: never read, safe to drop.
    for (const name of await readdir(dir)) {
      if (name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
    }
    const stored = await readJson<AuthenticationCreds>(join(dir, CREDS_FILE));
    return new AuthStore(dir, stored ?? initAuthCreds(), options.fsync ?? true);
  }

  get dir(): string {
    return this.#dir;
  }

  get paired(): boolean {
    return isPairedCreds(this.state.creds);
  }

  /** Writes the current credentials (Baileys mutates them in place, then emits creds.update). */
  saveCreds(): Promise<void> {
    return this.#write(CREDS_FILE, this.state.creds);
  }

  /** Resolves once every write started so far is on disk (or failed). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.#writes.values()]);
  }

  async #get<T extends keyof SignalDataTypeMap>(
    type: T,
    ids: string[],
  ): Promise<{ [id: string]: SignalDataTypeMap[T] }> {
    const out: { [id: string]: SignalDataTypeMap[T] } = {};
    await Promise.all(
      ids.map(async (id) => {
        const key = `${type}/${id}`;
        let value = this.#cache.get(key);
        if (value === undefined) {
          // A write in flight is already in the cache, so a miss can read the file directly.
          value = (await readJson(join(this.#dir, keyFile(type, id)))) ?? null;
          if (value !== null && type === 'app-state-sync-key') {
            value = proto.Message.AppStateSyncKeyData.fromObject(value as object);
          }
          if (!this.#cache.has(key)) this.#cache.set(key, value);
          else value = this.#cache.get(key);
        }
        if (value !== null && value !== undefined) out[id] = value as SignalDataTypeMap[T];
      }),
    );
    return out;
  }

  async #set(data: SignalDataSet): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const type of Object.keys(data) as (keyof SignalDataTypeMap)[]) {
      const entries = data[type];
      if (!entries) continue;
      for (const [id, value] of Object.entries(entries)) {
        this.#cache.set(`${type}/${id}`, value ?? null);
        writes.push(value == null ? this.#remove(keyFile(type, id)) : this.#write(keyFile(type, id), value));
      }
    }
    await Promise.all(writes);
  }

  async #clear(): Promise<void> {
    await this.flush();
    this.#cache.clear();
    for (const name of await readdir(this.#dir)) {
      if (name !== CREDS_FILE) await rm(join(this.#dir, name), { force: true });
    }
  }

  #write(name: string, value: unknown): Promise<void> {
    // Serialise now, so a later in-place change by Baileys cannot leak into this write.
    const text = JSON.stringify(value, BufferJSON.replacer);
    return this.#chain(name, () => this.#atomicWrite(name, text));
  }

  #remove(name: string): Promise<void> {
    return this.#chain(name, async () => {
      await unlink(join(this.#dir, name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      if (this.#fsync) await fsyncDir(this.#dir);
    });
  }

  #chain(name: string, work: () => Promise<void>): Promise<void> {
    const previous = this.#writes.get(name) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(work);
    this.#writes.set(name, next);
    const forget = () => {
      if (this.#writes.get(name) === next) this.#writes.delete(name);
    };
    next.then(forget, forget);
    return next;
  }

  async #atomicWrite(name: string, text: string): Promise<void> {
    const target = join(this.#dir, name);
    const tmp = join(this.#dir, `${name}.${process.pid}.${this.#tmp++}.tmp`);
    const handle = await open(tmp, 'w');
    try {
      await handle.writeFile(text);
      if (this.#fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    if (this.#fsync) await fsyncDir(this.#dir);
  }
}

/** One file per key; ids hold ':' '/' '@' (JIDs), so they are percent-encoded into the name. */
function keyFile(type: string, id: string): string {
  return `${type}-${encodeURIComponent(id)}.json`;
}

async function readJson<T>(file: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return JSON.parse(text, BufferJSON.reviver) as T;
  } catch (err) {
    // Files are replaced atomically, so a torn write cannot cause this: refuse rather than guess.
    throw new SwitchboardError('SB_ERR_STORE_CORRUPT', `auth file ${file} is not valid JSON`, 500, {
      cause: err,
    });
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
