// A lowdb Adapter for the store file. Like steno it writes a temp file and renames it over the
// store (atomic against a crash), and unlike steno it fsyncs the file and then the directory, so
// a commit also survives a power loss (cost measured in bench/store.bench.ts). A file it cannot
// parse is reported, never replaced.
import { constants } from 'node:fs';
import { open, readFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Adapter } from 'lowdb';
import { SwitchboardError } from '../errors.ts';
import { checkStoreShape, type StoreData } from './schema.ts';

export interface DurableFileOptions {
  /** fsync file and directory on every write (default true). */
  fsync?: boolean;
}

export class DurableJSONFile implements Adapter<StoreData> {
  readonly #tmp: string;
  readonly #fsync: boolean;

  constructor(
    readonly file: string,
    options: DurableFileOptions = {},
  ) {
    this.#tmp = join(dirname(file), `.${basename(file)}.tmp`);
    this.#fsync = options.fsync ?? true;
  }

  async read(): Promise<StoreData | null> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new SwitchboardError(
        'SB_ERR_STORE_CORRUPT',
        `store file ${this.file} cannot be read: ${(err as Error).message}`,
        500,
      );
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw corrupt(this.file, `not valid JSON (${(err as Error).message})`);
    }
    const problem = checkStoreShape(data);
    if (problem) throw corrupt(this.file, problem);
    return data as StoreData;
  }

  write(data: StoreData): Promise<void> {
    return this.writeText(JSON.stringify(data));
  }

  async writeText(text: string): Promise<void> {
    const handle = await open(this.#tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      if (this.#fsync) await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(this.#tmp, this.file);
    if (this.#fsync) {
      const dir = await open(dirname(this.file), constants.O_RDONLY);
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    }
  }
}

function corrupt(file: string, why: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_STORE_CORRUPT',
    `store file ${file} is corrupt: ${why}. It was left untouched; repair it or move it away to start empty.`,
    500,
  );
}
