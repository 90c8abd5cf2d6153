// Append-only history of finished messages (history-<n>.jsonl in the data dir), rotated by size,
// so delivered messages leave the hot store document.
import { appendFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageRecord } from './schema.ts';

const PATTERN = /^history-(\d+)\.jsonl$/;

export class HistoryLog {
  #index: number;
  #size: number;

  constructor(
    readonly dir: string,
    readonly maxBytes = 16 * 1024 * 1024,
  ) {
    const files = this.files();
    const last = files.at(-1);
    this.#index = last ? Number(PATTERN.exec(last)?.[1]) : 1;
    this.#size = last ? statSync(join(dir, last)).size : 0;
  }

  /** History files, oldest first. */
  files(): string[] {
    return readdirSync(this.dir)
      .filter((f) => PATTERN.test(f))
      .sort((a, b) => Number(PATTERN.exec(a)?.[1]) - Number(PATTERN.exec(b)?.[1]));
  }

  get currentFile(): string {
    return join(this.dir, `history-${this.#index}.jsonl`);
  }

  /** Appends the records; synchronous so a record is in the file before it leaves the store. */
  append(records: readonly MessageRecord[]): void {
    if (records.length === 0) return;
    if (this.#size >= this.maxBytes) {
      this.#index++;
      this.#size = 0;
    }
    const text = `${records.map((r) => JSON.stringify(r)).join('\n')}\n`;
    appendFileSync(this.currentFile, text);
    this.#size += Buffer.byteLength(text);
  }

  /** Finds an archived message, newest file first (a slow path: lookups of old messages). */
  find(id: string): MessageRecord | undefined {
    const needle = `"id":${JSON.stringify(id)}`;
    for (const file of this.files().reverse()) {
      const lines = readFileSync(join(this.dir, file), 'utf8').split('\n');
      for (let i = lines.length - 1; i >= 0; i--) {
        const line = lines[i];
        if (line?.includes(needle)) return JSON.parse(line) as MessageRecord;
      }
    }
    return undefined;
  }
}
