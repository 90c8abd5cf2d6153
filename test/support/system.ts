// A whole switchboard system on a SimulatedClock with a real store in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { SimulatedClock } from 'xstate';
import { SimNetwork } from '../../actors/sim.transport.ts';
import { SwitchboardSystem } from '../../actors/system.ts';
import { type ConfigInput, parseConfig } from '../../src/config.ts';
import { Store, type StoreOptions } from '../../src/store/store.ts';
import { historyMaxAgeMs } from '../../src/switchboard.ts';
import type { Fetch } from '../../src/webhooks/delivery.ts';
import { simClock } from './clock.ts';
import type { SimFileSystem } from './sim-fs.ts';

export const PHONES = ['+971501234567', '+971501234568', '+14155552671', '+447400123456', '+4915112345678'];
export const RECIPIENTS = Array.from({ length: 50 }, (_, i) => `+97150123${String(10000 + i).slice(1)}`);

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'switchboard-test-'));
}

/** Fast health settings: probe every 1 s, timeout 500 ms, 3 failures; reconnect timeout 2 s. */
export function testConfig(dataDir: string, masters = 3, extra: Partial<ConfigInput> = {}) {
  return parseConfig({
    masters: PHONES.slice(0, masters).map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 100_000 })),
    health: { intervalMs: 1_000, timeoutMs: 500, failureThreshold: 3, recoveryThreshold: 2 },
    recovery: { timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 500, backoffMaxMs: 2_000 },
    dispatch: { sendTimeoutMs: 2_000, maxInFlight: 4 },
    dataDir,
    ...extra,
  });
}

export interface TestSystem {
  system: SwitchboardSystem;
  clock: SimulatedClock;
  network: SimNetwork;
  store: Store;
  dir: string;
  advance(ms: number, stepMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Lets real I/O (store writes) finish between simulated clock steps. */
export async function settleRealIo(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setTimeout(r, 0));
}

/** Runs every pending promise callback: with the simulated file layer nothing waits on real I/O. */
export async function drain(): Promise<void> {
  await new Promise<void>((r) => setImmediate(r));
}

export async function startTestSystem(
  options: {
    masters?: number;
    dir?: string;
    store?: StoreOptions;
    config?: Partial<ConfigInput>;
    /** The simulated file layer (then the data dir is /data in it, and no real file is touched). */
    fs?: SimFileSystem;
    clock?: SimulatedClock;
    /** The system's logger (default: silent unless TEST_LOG names a level). */
    log?: pino.Logger;
    /** Webhook requests (default the global fetch). */
    fetch?: Fetch;
    /** The system's source of random choices (webhook jitter, ids). */
    random?: () => number;
  } = {},
): Promise<TestSystem> {
  const dir = options.fs ? '/data' : (options.dir ?? tempDir());
  const clock = options.clock ?? simClock();
  if (!options.clock) clock.set(Date.UTC(2026, 0, 1));
  const config = testConfig(dir, options.masters ?? 3, options.config);
  const store = await Store.open(dir, {
    fsync: false,
    checkpointer: 'inline',
    freeze: true,
    clock,
    history: { maxAgeMs: historyMaxAgeMs(config) },
    ...(options.fs ? { fs: options.fs, lock: false } : {}),
    ...options.store,
  });
  const settle = options.fs ? drain : settleRealIo;
  const network = new SimNetwork({ clock, latencyMs: 20, seed: 3 });
  const log = options.log ?? pino({ level: process.env.TEST_LOG ?? 'silent' });
  const system = await new SwitchboardSystem({
    config,
    store,
    log,
    clock,
    network,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.random ? { random: options.random } : {}),
  }).start();
  const advance = async (ms: number, stepMs = 20) => {
    await settle();
    for (let t = 0; t < ms; t += stepMs) {
      clock.increment(Math.min(stepMs, ms - t));
      await settle();
    }
  };
  return {
    system,
    clock,
    network,
    store,
    dir,
    advance,
    close: async () => {
      await system.stop();
      await store.close();
      if (!options.dir && !options.fs) rmSync(dir, { recursive: true, force: true });
    },
  };
}
