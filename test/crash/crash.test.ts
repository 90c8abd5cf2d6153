// SIGKILL at random points, again and again: every acknowledged message survives and ends sent,
// none sent twice unless its history says `unknown` (README "How it keeps messages").
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realClock } from '../../actors/clock.ts';
import { Outbox } from '../../src/outbox.ts';
import { seededRandom } from '../../src/routing/random.ts';
import { Store } from '../../src/store/store.ts';
import { tempDir } from '../support/system.ts';

const KILLS = Number(process.env.CRASH_KILLS ?? 20);
/** Where the kills land comes from this seed (printed), so a failure replays: CRASH_SEED=... */
const SEED = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
const worker = join(import.meta.dirname, 'worker.ts');

function run(dir: string, mode: 'load' | 'drain', seed: number): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', worker, dir, mode, String(seed)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function waitFor(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${text}" in ${timeoutMs} ms: ${out}${err}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (d: Buffer) => {
      out += d;
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('exit', (code) => {
      if (!out.includes(text)) {
        clearTimeout(timer);
        reject(new Error(`worker exited ${code}: ${out}${err}`));
      }
    });
  });
}

function lines<T>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as T];
      } catch {
        return []; // a line cut by the kill
      }
    });
}

describe('crash safety', () => {
  it(`keeps every acknowledged message across ${KILLS} SIGKILLs, each sent once unless marked unknown`, async () => {
    const dir = tempDir();
    console.log(`crash test: CRASH_SEED=${SEED}`);
    const random = seededRandom(SEED);
    let seed = SEED;
    for (let kill = 0; kill < KILLS; kill++) {
      const child = run(dir, 'load', seed++);
      await waitFor(child, 'ready', 20_000);
      await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 400)));
      const exited = new Promise((r) => child.on('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    const drain = run(dir, 'drain', seed);
    await waitFor(drain, 'drained', 60_000);

    const acked = new Set(lines<string>(join(dir, 'acked.jsonl')));
    expect(acked.size).toBeGreaterThan(KILLS * 10);
    const store = await Store.open(dir, { fsync: false, checkpointer: 'off' });
    const outbox = new Outbox(store, realClock);
    const sends = new Map<string, number>();
    for (const s of lines<{ messageId: string }>(join(dir, 'sim-sends.jsonl'))) {
      sends.set(s.messageId, (sends.get(s.messageId) ?? 0) + 1);
    }
    let unknownDuplicates = 0;
    for (const id of acked) {
      const m = await outbox.find(id);
      expect(m, `acknowledged message ${id} was lost`).toBeDefined();
      if (!m) continue;
      expect(['sent', 'delivered', 'read'], `${id}: ${JSON.stringify(m.history)}`).toContain(m.status);
      const n = sends.get(id) ?? 0;
      expect(n, `${id} never reached the network`).toBeGreaterThanOrEqual(1);
      if (n > 1) {
        expect(
          m.history.some((h) => h.status === 'unknown'),
          `${id} sent ${n} times without "unknown"`,
        ).toBe(true);
        unknownDuplicates++;
      }
    }
    store.halt();
    console.log(
      `crash test (CRASH_SEED=${SEED}): ${KILLS} kills, ${acked.size} acknowledged messages, all sent; ${unknownDuplicates} sent twice, each marked unknown`,
    );
  }, 300_000);
});
