// The wired system on a SimulatedClock: accept, route, send, fail over, recover.
import { afterEach, describe, expect, it } from 'vitest';
import { PHONES, RECIPIENTS, startTestSystem, type TestSystem } from '../support/system.ts';

let t: TestSystem | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function sendsPerMessage(t: TestSystem): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of t.network.sends) counts.set(s.messageId, (counts.get(s.messageId) ?? 0) + 1);
  return counts;
}

describe('system', () => {
  it('sends every accepted message exactly once over healthy masters', async () => {
    t = await startTestSystem();
    await t.advance(200);
    const ids = await Promise.all(
      Array.from({ length: 60 }, (_, i) => t!.system.send({ to: RECIPIENTS[i % 20]!, text: `hello ${i}` })),
    );
    await t.advance(3_000);
    const counts = sendsPerMessage(t);
    for (const { id } of ids) {
      expect(counts.get(id)).toBe(1);
      expect(['sent', 'delivered']).toContain((await t.system.outbox.find(id))?.status);
    }
    const masters = new Set(t.network.sends.map((s) => s.master));
    expect(masters.size).toBeGreaterThan(1);
  });

  it('fails a hung master over: its messages move to a backup and all are sent', async () => {
    t = await startTestSystem();
    await t.advance(200);
    const hung = PHONES[0]!;
    t.network.inject(hung, { kind: 'hang' });
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) => t!.system.send({ to: RECIPIENTS[i % 10]!, text: `m${i}` })),
    );
    await t.advance(15_000);
    const failovers = t.system.failovers();
    expect(failovers.some((f) => f.from === hung && f.status === 'completed')).toBe(true);
    const counts = sendsPerMessage(t);
    for (const { id } of ids) {
      const m = (await t.system.outbox.find(id))!;
      expect(['sent', 'delivered'], JSON.stringify(m.history)).toContain(m.status);
      const n = counts.get(id) ?? 0;
      if (n > 1) expect(m.history.some((h) => h.status === 'unknown')).toBe(true);
      expect(n).toBeGreaterThanOrEqual(1);
    }
    expect(t.system.outbox.ownedCount(hung)).toBe(0);
  });

  it('a message mid-send on a master that hangs moves to the backup as "unknown" and is sent there', async () => {
    t = await startTestSystem({
      masters: 2,
      config: { dispatch: { sendTimeoutMs: 20_000, maxInFlight: 4 } },
    });
    await t.advance(200);
    const hung = PHONES[0]!;
    t.network.inject(hung, { kind: 'hang' });
    await t.advance(1_600); // first probe failed: degraded, still routable
    expect(t.system.masterRef(hung)?.getSnapshot().value).toBe('degraded');
    const ids = (
      await Promise.all(
        Array.from({ length: 8 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `m${i}` })),
      )
    ).map((r) => r.id);
    await t.advance(100);
    const midSend = ids.filter(
      (id) => t!.system.outbox.get(id)?.status === 'sending' && t!.system.outbox.get(id)?.master === hung,
    );
    expect(midSend.length).toBeGreaterThan(0);
    await t.advance(4_000); // two more failed probes: failed, failover
    expect(t.system.failovers().some((f) => f.from === hung && f.status === 'completed')).toBe(true);
    expect(t.system.outbox.ownedCount(hung)).toBe(0);
    for (const id of midSend) {
      const m = (await t.system.outbox.find(id))!;
      expect(m.history.some((h) => h.status === 'unknown' && /mid-send/.test(h.note ?? ''))).toBe(true);
      expect(['sent', 'delivered']).toContain(m.status);
      expect(m.master).toBe(PHONES[1]);
    }
  });

  it('a recipient not on WhatsApp ends "failed" with a reason a person can act on; the master stays healthy', async () => {
    t = await startTestSystem({ masters: 1 });
    await t.advance(200);
    t.network.notOnWhatsApp.add(RECIPIENTS[3]!);
    const { id } = await t.system.send({ to: RECIPIENTS[3]!, text: 'nobody home' });
    await t.advance(1_000);
    const m = (await t.system.outbox.find(id))!;
    expect(m.status).toBe('failed');
    expect(m.history.at(-1)?.note).toBe(`${RECIPIENTS[3]} is not on WhatsApp`);
    expect(t.system.masterRef(PHONES[0]!)?.getSnapshot().value).toBe('healthy');
  });

  it("a flaky master's refused sends go back to the queue until they go out", async () => {
    t = await startTestSystem({ masters: 2 });
    await t.advance(200);
    t.network.inject(PHONES[0]!, { kind: 'flaky', errorRate: 1 });
    const ids = (
      await Promise.all(
        Array.from({ length: 20 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `f${i}` })),
      )
    ).map((r) => r.id);
    await t.advance(5_000);
    for (const id of ids) expect(['sent', 'delivered']).toContain((await t.system.outbox.find(id))?.status);
    expect(t.network.sends.every((s) => s.master === PHONES[1])).toBe(true);
  });

  it('stopping with sends in flight marks them "unknown" on disk, and a restart sends them again', async () => {
    t = await startTestSystem({
      masters: 1,
      config: { dispatch: { sendTimeoutMs: 60_000, maxInFlight: 4 } },
    });
    await t.advance(200);
    t.network.inject(PHONES[0]!, { kind: 'hang' });
    const ids = (
      await Promise.all(
        Array.from({ length: 3 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `s${i}` })),
      )
    ).map((r) => r.id);
    await t.advance(100);
    for (const id of ids) expect((await t.system.outbox.find(id))?.status).toBe('sending');
    const dir = t.dir;
    await t.system.stop(0);
    await t.store.close();
    const again = await startTestSystem({ masters: 1, dir });
    try {
      for (const id of ids) expect((await again.system.outbox.find(id))?.status).toBe('unknown');
      await again.advance(2_000);
      for (const id of ids) {
        const m = (await again.system.outbox.find(id))!;
        expect(['sent', 'delivered']).toContain(m.status);
        expect(m.history.some((h) => h.status === 'unknown' && /service stopping/.test(h.note ?? ''))).toBe(
          true,
        );
      }
    } finally {
      await again.close();
    }
  });

  it('a number with warmUpMinutes starts at a tenth of its rate, and the rest waits in the queue', async () => {
    const masters = (warmUpMinutes: number) => [{ phone: PHONES[0]!, ratePerMinute: 600, warmUpMinutes }];
    const sentAfterOneSecond = async (warmUpMinutes: number) => {
      const s = await startTestSystem({ masters: 1, config: { masters: masters(warmUpMinutes) } });
      try {
        await s.advance(200);
        await Promise.all(
          Array.from({ length: 60 }, (_, i) => s.system.send({ to: RECIPIENTS[i % 50]!, text: `w${i}` })),
        );
        await s.advance(1_000);
        return s.network.sends.length;
      } finally {
        await s.close();
      }
    };
    const cold = await sentAfterOneSecond(10);
    const warm = await sentAfterOneSecond(0);
    expect(warm).toBe(60); // a 10 s burst of 600/min covers all 60
    expect(cold).toBeGreaterThan(0);
    expect(cold).toBeLessThanOrEqual(12); // 10% of the burst, plus what refills in a second
  });

  it('after a restart without one of the masters, its messages are queued again and sent by the others', async () => {
    t = await startTestSystem({ masters: 2 });
    await t.advance(200);
    t.network.inject(PHONES[1]!, { kind: 'hang' });
    const ids = (
      await Promise.all(
        Array.from({ length: 10 }, (_, i) => t!.system.send({ to: RECIPIENTS[i]!, text: `o${i}` })),
      )
    ).map((r) => r.id);
    await t.advance(100);
    const onSecond = ids.filter((id) => t!.system.outbox.get(id)?.master === PHONES[1]);
    expect(onSecond.length).toBeGreaterThan(0);
    const dir = t.dir;
    await t.system.stop(0);
    await t.store.close();
    const again = await startTestSystem({ masters: 1, dir });
    try {
      await again.advance(2_000);
      let orphaned = 0;
      for (const id of onSecond) {
        const m = (await again.system.outbox.find(id))!;
        expect(['sent', 'delivered']).toContain(m.status);
        expect(m.master).toBe(PHONES[0]);
        // Sends cut short by the stop were queued again then; the rest were still owned by the removed master.
        expect(m.history.some((h) => /no longer configured|service stopping/.test(h.note ?? ''))).toBe(true);
        if (m.history.some((h) => /no longer configured/.test(h.note ?? ''))) orphaned++;
      }
      expect(orphaned).toBeGreaterThan(0);
    } finally {
      await again.close();
    }
  });

  it('with no routable master, messages wait in the queue and go out once one recovers', async () => {
    t = await startTestSystem({ masters: 2 });
    await t.advance(200);
    for (const p of PHONES.slice(0, 2)) t.network.inject(p, { kind: 'disconnect' });
    await t.advance(100);
    const { id } = await t.system.send({ to: RECIPIENTS[0]!, text: 'waiting' });
    await t.advance(1_000);
    expect((await t.system.outbox.find(id))?.status).toBe('queued');
    expect(t.network.sends).toHaveLength(0);
    t.network.inject(PHONES[1]!, { kind: 'heal' });
    await t.advance(10_000);
    expect(['sent', 'delivered']).toContain((await t.system.outbox.find(id))?.status);
    expect(t.network.sends.map((s) => s.master)).toEqual([PHONES[1]]);
  });

  it('a master that used all its recovery attempts takes traffic again after a manual reset', async () => {
    t = await startTestSystem({ masters: 1 });
    await t.advance(200);
    t.network.inject(PHONES[0]!, { kind: 'disconnect' });
    await t.advance(10_000);
    expect(t.system.masterRef(PHONES[0]!)?.getSnapshot().matches({ failed: 'exhausted' })).toBe(true);
    const { id } = await t.system.send({ to: RECIPIENTS[0]!, text: 'after reset' });
    t.network.inject(PHONES[0]!, { kind: 'heal' });
    await t.advance(5_000);
    expect((await t.system.outbox.find(id))?.status).toBe('queued');
    t.system.manualReset(PHONES[0]!);
    await t.advance(5_000);
    expect(['sent', 'delivered']).toContain((await t.system.outbox.find(id))?.status);
  });
});
