// The message path under faults (README "How it keeps messages"): nothing is sent after a failover moved it,
// nothing is resent for ever, one recipient's backlog blocks nobody else, an idempotency key is
// tied to its request, interrupted incidents are finished, the unsent cap holds for moved and
// restored messages, and a manual failover drains its source. SimulatedClock, sim transports, and
// the simulated file layer where a slow disk is needed.
import { afterEach, describe, expect, it } from 'vitest';
import { stateLabel } from '../../actors/master-log.ts';
import type { MessageRecord } from '../../src/store/schema.ts';
import { Store } from '../../src/store/store.ts';
import { simClock } from '../support/clock.ts';
import { SimFileSystem } from '../support/sim-fs.ts';
import { PHONES, RECIPIENTS, startTestSystem, type TestSystem } from '../support/system.ts';

let t: TestSystem | undefined;
afterEach(async () => {
  await t?.close().catch(() => undefined);
  t = undefined;
});

const [A, B, C] = PHONES as [string, string, string];
const DONE = ['sent', 'delivered', 'read'];

function sendsOf(t: TestSystem, id: string): string[] {
  return t.network.sends.filter((s) => s.messageId === id).map((s) => s.master);
}

function simDisk() {
  const clock = simClock();
  clock.set(Date.UTC(2026, 0, 1));
  return { clock, fs: new SimFileSystem(clock) };
}

describe('the message path', () => {
  it('1. a dispatcher whose "sending" commit resolves after a failover moved the message lets it go: nothing goes out twice', async () => {
    const { clock, fs } = simDisk();
    t = await startTestSystem({
      masters: 2,
      fs,
      clock,
      config: { dispatch: { sendTimeoutMs: 5_000, maxInFlight: 4 } },
    });
    await t.advance(300);
    fs.latencyMs = 100; // a slow disk: every commit takes 100 ms
    const accepted = Promise.all(
      Array.from({ length: 8 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `move ${i}` })),
    );
    let onA: MessageRecord[] = [];
    for (let step = 0; step < 200 && onA.length === 0; step++) {
      await t.advance(10, 10);
      onA = [...t.store.map('messages').values()].filter((m) => m.master === A && m.status === 'sending');
    }
    expect(onA.length).toBeGreaterThan(0); // marked sending in memory; that commit is still on the slow disk
    t.system.executeFailover(A, B);
    await t.advance(5_000);
    await accepted;
    fs.latencyMs = 0;
    for (const m of onA) {
      expect(sendsOf(t, m.id), `${m.id} went out on the failed master`).not.toContain(A);
      expect(sendsOf(t, m.id)).toHaveLength(1);
      expect(DONE).toContain((await t.system.outbox.find(m.id))?.status);
    }
  });

  it('2. a message goes on the wire at most maxAttempts times, each time on another master, then fails saying it may have been delivered', async () => {
    const { clock, fs } = simDisk();
    t = await startTestSystem({
      masters: 3,
      fs,
      clock,
      config: { dispatch: { sendTimeoutMs: 1_000, maxInFlight: 4, maxAttempts: 3 } },
    });
    await t.advance(300);
    for (const p of [A, B, C]) t.network.inject(p, { kind: 'no-ack' });
    const { id } = await t.system.send({ to: RECIPIENTS[0]!, text: 'into the void' });
    await t.advance(120_000);
    const m = (await t.system.outbox.find(id))!;
    expect(sendsOf(t, id).length).toBeLessThanOrEqual(3);
    expect(m.status).toBe('failed');
    expect(m.history.at(-1)?.note).toMatch(
      /^no acknowledgement after 3 attempts: it may have been delivered/,
    );
    // a resend preferred another master each time
    expect(new Set(sendsOf(t, id)).size).toBe(sendsOf(t, id).length);
  });

  it('2b. five unacknowledged sends in a row take a master out of rotation although its probes succeed; its failover completes', async () => {
    t = await startTestSystem({
      masters: 3,
      config: { dispatch: { sendTimeoutMs: 1_000, maxInFlight: 4, maxAttempts: 3 } },
    });
    await t.advance(300);
    t.network.inject(A, { kind: 'no-ack' });
    const ids = (
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `n${i}` })),
      )
    ).map((r) => r.id);
    let leftRotation = false;
    const sub = t.system.masterRef(A)!.subscribe((s) => {
      if (!s.hasTag('routable')) leftRotation = true;
    });
    await t.advance(20_000);
    sub.unsubscribe();
    expect(leftRotation).toBe(true);
    const failovers = t.system.failovers().filter((f) => f.from === A && f.status === 'completed');
    expect(failovers.length).toBeGreaterThan(0);
    expect(failovers[0]!.reason).toMatch(/sends in a row failed or went unacknowledged/);
    for (const id of ids) {
      const m = (await t.system.outbox.find(id))!;
      expect(sendsOf(t, id).length).toBeLessThanOrEqual(3);
      if (m.status === 'failed') expect(m.history.at(-1)?.note).toMatch(/no acknowledgement after/);
      else {
        expect(DONE).toContain(m.status);
        expect(sendsOf(t, id)).toContain(m.master);
        expect(m.master).not.toBe(A);
      }
    }
  });

  it('3. one recipient with 1,100 messages on a slow number does not hold up a message to another recipient', async () => {
    // 6 a minute: the busy number's next free slot is up to 10 s away, so any waiting behind it shows
    t = await startTestSystem({
      masters: 2,
      config: { masters: [A, B].map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 6 })) },
    });
    await t.advance(300);
    const busy = RECIPIENTS[0]!;
    await Promise.all(
      Array.from({ length: 1_100 }, (_, i) => t!.system.send({ to: busy, text: `backlog ${i}` })),
    );
    await t.advance(3_000);
    const acceptedAt = t.clock.now();
    const { id } = await t.system.send({ to: RECIPIENTS[1]!, text: 'not stuck behind them' });
    let sentAfter = Number.POSITIVE_INFINITY;
    for (let ms = 0; ms < 60_000; ms += 20) {
      await t.advance(20);
      if (DONE.includes(t.system.outbox.get(id)?.status ?? (await t.system.outbox.find(id))?.status ?? '')) {
        sentAfter = t.clock.now() - acceptedAt;
        break;
      }
    }
    // It does not wait for the busy number's next free slot (a second away at 60/min): another master takes it now.
    expect(sentAfter).toBeLessThanOrEqual(200);
    expect(t.system.outbox.queueLength).toBeGreaterThan(1_000); // the busy recipient still waits, on its number
  });

  it('4. the same idempotency key with another recipient or text is refused with SB_ERR_IDEMPOTENCY_KEY_REUSED (422)', async () => {
    t = await startTestSystem({ masters: 1 });
    const first = await t.system.send({
      to: RECIPIENTS[0]!,
      text: 'order 42 shipped',
      idempotencyKey: 'order-42',
    });
    const again = await t.system.send({
      to: RECIPIENTS[0]!,
      text: 'order 42 shipped',
      idempotencyKey: 'order-42',
    });
    expect(again).toEqual({ id: first.id, status: expect.any(String), created: false });
    for (const other of [
      { to: RECIPIENTS[0]!, text: 'order 43 shipped' },
      { to: RECIPIENTS[1]!, text: 'order 42 shipped' },
    ]) {
      await expect(t.system.send({ ...other, idempotencyKey: 'order-42' })).rejects.toMatchObject({
        code: 'SB_ERR_IDEMPOTENCY_KEY_REUSED',
        statusCode: 422,
      });
    }
    expect(t.store.map('messages').size).toBe(1);
    expect(t.store.get('idempotency', 'order-42')?.hash).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it('5. a failover cut by a crash after its transfer committed is finished at the next start, not left "activating"', async () => {
    const { clock, fs } = simDisk();
    t = await startTestSystem({ masters: 2, fs, clock });
    await t.advance(300);
    await Promise.all(
      Array.from({ length: 6 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `i${i}` })),
    );
    let committed = false;
    const off = t.store.onEvent((e) => {
      if (
        e.type === 'committed' &&
        [...t!.store.map('failovers').values()].some((f) => f.status === 'activating')
      )
        committed = true;
    });
    fs.latencyMs = 50; // the audit's own commit would come later
    t.system.executeFailover(A, B);
    for (let i = 0; i < 100 && !committed; i++) await t.advance(5, 5);
    off();
    expect(committed).toBe(true);
    const onDisk = await Store.open('/data', { fs: fs.image(), lock: false, checkpointer: 'off' });
    expect([...onDisk.map('failovers').values()].map((f) => f.status)).toEqual(['activating']);
    onDisk.halt();
    // the process dies now, before the incident writes its outcome
    t.system.halt();
    t.store.halt();
    t = undefined;
    const again = await startTestSystem({ masters: 2, fs: fs.crash(), clock });
    try {
      const records = [...again.store.map('failovers').values()];
      expect(records).toHaveLength(1);
      expect(records[0]).toMatchObject({
        status: 'completed',
        note: expect.stringMatching(/finished after an interruption/),
      });
    } finally {
      await again.close();
    }
  });

  it('6. the unsent cap (2 x maxInFlight) counts messages a failover moved in and messages owned before a restart', async () => {
    const cap = 8; // maxInFlight 4
    t = await startTestSystem({
      masters: 3,
      config: {
        masters: [A, B, C].map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 100_000 })),
        health: { intervalMs: 1_000, timeoutMs: 3_000, degradedLatencyMs: 4_000, failureThreshold: 3 },
        dispatch: { sendTimeoutMs: 10_000, maxInFlight: 4 },
      },
    });
    await t.advance(300);
    for (const p of [A, B]) t.network.inject(p, { kind: 'slow', latencyMs: 2_500 });
    const overCap: string[] = [];
    t.system.outbox.onChange((c) => {
      // a fresh assignment (not a transfer) must find room under the cap
      if (
        c.type === 'status' &&
        c.message.status === 'assigned' &&
        (c.previous === 'queued' || c.previous === 'unknown')
      ) {
        const owned = t!.system.outbox.ownedCount(c.message.master!);
        if (owned > cap) overCap.push(`${c.message.master} owned ${owned}`);
      }
    });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) => t!.system.send({ to: RECIPIENTS[i % 50]!, text: `c${i}` })),
    );
    await t.advance(200);
    expect(t.system.outbox.ownedCount(A)).toBeGreaterThan(0);
    expect(t.system.outbox.ownedCount(B)).toBeGreaterThan(0);
    t.system.executeFailover(A, B); // B now holds more than its cap
    await t.advance(200);
    const load = () =>
      t!.system.balancer.getLoadDistribution().distribution.find((d) => d.phone === B)!.inFlight;
    expect(load()).toBe(t.system.outbox.ownedCount(B));
    expect(t.system.outbox.ownedCount(B)).toBeGreaterThan(cap);
    await t.advance(2_000);
    expect(overCap).toEqual([]);
    // restart while B still owns messages: its load is known at once
    const owned = t.system.outbox.ownedCount(B);
    const dir = t.dir;
    await t.system.stop(0);
    await t.store.close();
    const again = await startTestSystem({
      masters: 3,
      dir,
      config: { masters: [A, B, C].map((phone, i) => ({ phone, priority: i + 1 })) },
    });
    t = again;
    expect(
      again.system.balancer.getLoadDistribution().distribution.find((d) => d.phone === B)!.inFlight,
    ).toBe(again.system.outbox.ownedCount(B));
    expect(again.system.outbox.ownedCount(B)).toBeGreaterThan(0);
    expect(owned).toBeGreaterThan(0);
  });

  it('7. a manual failover drains its source: it takes no new messages until "master.reset"', async () => {
    t = await startTestSystem({ masters: 2 });
    await t.advance(300);
    t.system.executeFailover(A, B);
    await t.advance(500);
    expect(stateLabel(t.system.masterRef(A)!.getSnapshot().value)).toBe('failed.drained');
    const ids = (
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `d${i}` })),
      )
    ).map((r) => r.id);
    await t.advance(3_000);
    for (const id of ids) expect(sendsOf(t, id)).toEqual([B]);
    t.system.manualReset(A);
    await t.advance(5_000);
    expect(t.system.balancer.isRoutable(A)).toBe(true);
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => t!.system.send({ to: RECIPIENTS[20 + i]!, text: `r${i}` })),
    );
    await t.advance(3_000);
    expect(t.network.sends.some((s) => s.master === A)).toBe(true);
  });
});
