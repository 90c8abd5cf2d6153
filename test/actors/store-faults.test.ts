// The whole runtime on the simulated file layer while the disk fails: nothing is acknowledged that
// is not on disk, memory never runs ahead of the disk after a failure, and once the disk is back
// every acknowledged message is sent, nothing refused goes out, and nothing is left wedged.
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.ts';
import { simClock } from '../support/clock.ts';
import { type FaultRule, SimFileSystem } from '../support/sim-fs.ts';
import { PHONES, RECIPIENTS, startTestSystem, type TestSystem } from '../support/system.ts';

let t: TestSystem | undefined;
afterEach(async () => {
  await t?.close().catch(() => undefined);
  t = undefined;
});

const DONE = ['sent', 'delivered', 'read'];

async function diskState(fs: SimFileSystem): Promise<unknown> {
  const store = await Store.open('/data', { fs: fs.image(), lock: false, checkpointer: 'off' });
  const doc = JSON.parse(JSON.stringify(store.state.toDocument()));
  store.halt();
  return doc;
}

function memoryState(t: TestSystem): unknown {
  return JSON.parse(JSON.stringify(t.store.state.toDocument()));
}

async function start(fs: SimFileSystem, clock: ReturnType<typeof simClock>): Promise<TestSystem> {
  return startTestSystem({ fs, clock, store: { retryMs: { base: 200, max: 1_000 } } });
}

interface Traffic {
  acked: Map<string, string>;
  refused: Set<string>;
  other: unknown[];
}

function sender(t: TestSystem, traffic: Traffic) {
  let n = 0;
  return () => {
    const text = `message ${n}`;
    const to = RECIPIENTS[n % RECIPIENTS.length]!;
    n++;
    return t.system.send({ to, text }).then(
      (r) => {
        traffic.acked.set(r.id, text);
      },
      (err: { code?: string }) => {
        if (err.code === 'SB_ERR_STORE_UNAVAILABLE') traffic.refused.add(text);
        else traffic.other.push(err);
      },
    );
  };
}

/** Every acknowledged message ended sent, nothing refused went out, nothing waits or is owned. */
async function expectAllSent(t: TestSystem, traffic: Traffic): Promise<void> {
  expect(traffic.other).toEqual([]);
  for (const [id] of traffic.acked) {
    const m = await t.system.outbox.find(id);
    expect(m, `acknowledged ${id} lost`).toBeDefined();
    expect(DONE, `${id}: ${JSON.stringify(m?.history)}`).toContain(m?.status);
  }
  const sentTexts = new Set<string>();
  for (const s of t.network.sends) {
    const m = await t.system.outbox.find(s.messageId);
    expect(m, `a send of ${s.messageId}, which the store does not know`).toBeDefined();
    sentTexts.add(m!.text ?? '');
  }
  for (const text of traffic.refused) expect(sentTexts.has(text), `refused "${text}" was sent`).toBe(false);
  expect(t.system.outbox.queueLength).toBe(0);
  for (const p of t.system.masterPhones())
    expect(t.system.outbox.ownedCount(p), `${p} still owns messages`).toBe(0);
}

const FAULTS: [string, Omit<FaultRule, 'path'>][] = [
  ['EIO on write', { op: 'write', code: 'EIO', times: 3 }],
  ['ENOSPC on write', { op: 'write', code: 'ENOSPC', times: 3 }],
  ['EIO on fsync', { op: 'sync', code: 'EIO', times: 3 }],
  ['ENOSPC on fsync', { op: 'sync', code: 'ENOSPC', times: 3 }],
  ['a short write then EIO', { op: 'write', code: 'EIO', shortBytes: 11, times: 1 }],
];

describe('the runtime when the disk fails', () => {
  for (const [label, rule] of FAULTS) {
    it(`${label}: no acknowledgement without the disk, memory equals the disk after the fault, and every acknowledged message is sent once it heals`, async () => {
      const clock = simClock();
      clock.set(Date.UTC(2026, 0, 1));
      const fs = new SimFileSystem(clock);
      t = await start(fs, clock);
      await t.advance(200);
      const traffic: Traffic = { acked: new Map(), refused: new Set(), other: [] };
      const send = sender(t, traffic);
      for (let i = 0; i < 20; i++) {
        void send();
        await t.advance(20);
      }
      fs.fail({ ...rule, path: 'journal-' });
      let sawDown = false;
      for (let i = 0; i < 40; i++) {
        void send();
        void send();
        await t.advance(20);
        if (!t.store.available) {
          sawDown = true;
          // Memory is exactly what the disk holds: nothing refused lingers, nothing unwritten shows.
          expect(memoryState(t)).toEqual(await diskState(fs));
          expect((await t.system.send({ to: RECIPIENTS[0]!, text: 'while down' }).catch((e) => e)).code).toBe(
            'SB_ERR_STORE_UNAVAILABLE',
          );
        }
      }
      expect(sawDown).toBe(true);
      expect(traffic.refused.size).toBeGreaterThan(0);
      await t.advance(10_000);
      expect(t.store.available).toBe(true);
      expect(t.store.stats.recoveries).toBeGreaterThan(0);
      await expectAllSent(t, traffic);
      await t.store.flushed();
      expect(memoryState(t)).toEqual(await diskState(fs));
    });
  }

  it('a disk that stays full for a while: 503s while full, and everything acknowledged goes out once there is room, without a restart', async () => {
    const clock = simClock();
    clock.set(Date.UTC(2026, 0, 1));
    const fs = new SimFileSystem(clock);
    t = await start(fs, clock);
    await t.advance(200);
    const traffic: Traffic = { acked: new Map(), refused: new Set(), other: [] };
    const send = sender(t, traffic);
    for (let i = 0; i < 10; i++) void send();
    await t.advance(100);
    fs.capacity = fs.used + 300; // a few more records fit, then nothing
    for (let i = 0; i < 200; i++) {
      void send();
      await t.advance(20);
    }
    expect(t.store.available).toBe(false);
    expect(t.store.unavailableReason).toMatch(/ENOSPC/);
    fs.capacity = Number.POSITIVE_INFINITY;
    await t.advance(5_000);
    expect(t.store.available).toBe(true);
    for (let i = 0; i < 10; i++) void send();
    await t.advance(5_000);
    await expectAllSent(t, traffic);
  });

  it('a failover whose commit fails is retried until it commits: nothing stays on the dead master', async () => {
    const clock = simClock();
    clock.set(Date.UTC(2026, 0, 1));
    const fs = new SimFileSystem(clock);
    t = await start(fs, clock);
    await t.advance(200);
    const traffic: Traffic = { acked: new Map(), refused: new Set(), other: [] };
    const send = sender(t, traffic);
    const dead = PHONES[0]!;
    t.network.inject(dead, { kind: 'hang' });
    for (let i = 0; i < 30; i++) void send();
    await t.advance(200);
    expect(t.system.outbox.ownedCount(dead)).toBeGreaterThan(0);
    // the disk fails for good just before the failover's transfer would commit, and heals later
    await t.advance(2_400);
    fs.fail({ op: 'sync', code: 'EIO', path: 'journal-' });
    await t.advance(6_000);
    const rolledBack = t.system.failovers().filter((f) => f.from === dead);
    expect(t.system.balancer.isRoutable(dead)).toBe(false);
    expect(rolledBack.length).toBeGreaterThan(0);
    expect(rolledBack.every((f) => f.status !== 'completed')).toBe(true);
    expect(t.system.outbox.ownedCount(dead)).toBeGreaterThan(0);
    fs.heal();
    await t.advance(40_000);
    const done = t.system.failovers().filter((f) => f.from === dead && f.status === 'completed');
    expect(done.length).toBeGreaterThan(0);
    expect(t.system.outbox.ownedCount(dead)).toBe(0);
    await expectAllSent(t, traffic);
  });
});
