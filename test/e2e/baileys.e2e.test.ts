// The runtime with two Baileys masters, each a real Baileys socket to its own loopback endpoint,
// in real time: one endpoint goes dark mid-send and drops; its messages fail over and arrive at the
// other endpoint, none lost, and none received twice unless the message's history says "unknown".
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { createSwitchboard, type Switchboard } from '../../src/switchboard.ts';
import { quietLog, seedPairedAuth, tempDataDir } from '../support/baileys.ts';
import { PHONES, RECIPIENTS } from '../support/system.ts';
import { WaEndpoint } from '../support/wa-endpoint.ts';
import { until } from '../support/wait.ts';

const [A, B] = PHONES as [string, string];
const recipient = (i: number) => RECIPIENTS[i]!;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function statuses(sb: Switchboard, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await sb.getMessage(id))?.status ?? 'missing'));
}

async function fleet(endpointOptions: Parameters<typeof WaEndpoint.start>[0] = {}) {
  const data = tempDataDir();
  const endpoints = {
    [A]: await WaEndpoint.start(endpointOptions),
    [B]: await WaEndpoint.start(endpointOptions),
  };
  cleanups.push(() => data.remove());
  cleanups.push(() => endpoints[A]!.close());
  cleanups.push(() => endpoints[B]!.close());
  await seedPairedAuth(data.dir, A);
  await seedPairedAuth(data.dir, B);
  const config = parseConfig({
    masters: [
      { phone: A, priority: 1, ratePerMinute: 100_000, transport: 'baileys' },
      { phone: B, priority: 2, ratePerMinute: 100_000, transport: 'baileys' },
    ],
    // everything goes to A while it is routable, so the drop has something to move
    balancer: { strategy: 'priority', affinity: true },
    health: {
      intervalMs: 200,
      timeoutMs: 500,
      failureThreshold: 2,
      recoveryThreshold: 1,
      degradedLatencyMs: 400,
    },
    recovery: { timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 200, backoffMaxMs: 1_000 },
    dispatch: { sendTimeoutMs: 2_000, maxInFlight: 4 },
    baileys: { openTimeoutMs: 1_500, logLevel: 'silent' },
    dataDir: data.dir,
  });
  const sb: Switchboard = await createSwitchboard(config, {
    log: quietLog,
    fsync: false,
    baileys: { testEndpoint: (phone) => endpoints[phone]!.url, fsync: false },
  });
  cleanups.push(() => sb.stop(200));
  await until('both masters healthy', () => sb.getHealthyMasters().length === 2, 10_000);
  return { sb, endpoints };
}

describe('two Baileys masters against two loopback endpoints', () => {
  it('one endpoint goes dark and drops: its messages fail over and arrive at the other, none lost, none twice unflagged', async () => {
    const { sb, endpoints } = await fleet({ receipts: ['delivered', 'read'] });
    const ea = endpoints[A]!;
    const eb = endpoints[B]!;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await sb.send({ to: recipient(i), text: `before ${i}` })).id);
    await until('the first five delivered by A', () => ea.received.length === 5);

    // A takes messages and never acknowledges them, then its connection and endpoint go away
    ea.ack = 'hold';
    for (let i = 5; i < 25; i++) ids.push((await sb.send({ to: recipient(i), text: `during ${i}` })).id);
    await until('A holds sends in flight', () => ea.received.length >= 9);
    const heldByA = ea.received.slice(5).map((m) => m.id);
    await ea.close();

    await until(
      'every message sent',
      async () => (await statuses(sb, ids)).every((s) => ['sent', 'delivered', 'read'].includes(s)),
      20_000,
    );

    const master = sb.getMasterStatus(A);
    expect(master.state).toBe('failed');
    const failover = sb.getFailovers().find((f) => f.from === A);
    expect(failover).toMatchObject({ to: B, status: 'completed' });
    expect(failover!.moved.messages).toBeGreaterThanOrEqual(heldByA.length); // mid-send and assigned ones

    // none lost: every accepted message reached an endpoint that acknowledged it
    const ackedByA = new Set(ea.received.slice(0, 5).map((m) => m.id));
    const atB = eb.received.map((m) => m.id);
    for (const id of ids) expect(ackedByA.has(id) || atB.includes(id), id).toBe(true);
    // A's unacknowledged and queued messages arrived at B
    for (const id of heldByA) expect(atB).toContain(id);
    expect(ids.slice(5).every((id) => atB.includes(id))).toBe(true);

    // none twice unflagged: a message either endpoint got more than once says "unknown" in its history
    const times = new Map<string, number>();
    for (const m of [...ea.received, ...eb.received]) times.set(m.id, (times.get(m.id) ?? 0) + 1);
    const twice = [...times].filter(([, n]) => n > 1).map(([id]) => id);
    expect(twice.sort()).toEqual([...heldByA].sort());
    for (const id of twice) {
      expect((await sb.getMessage(id))?.history.map((h) => h.status)).toContain('unknown');
    }
    for (const id of ids.filter((id) => !twice.includes(id))) {
      expect((await sb.getMessage(id))?.history.map((h) => h.status)).not.toContain('unknown');
    }
    // and the recipients' receipts reach the outbox through the transport: every message ends "read"
    await until('every message read', async () => (await statuses(sb, ids)).every((s) => s === 'read'));
  });

  it('a 463 ack degrades the master and the message is sent by the other number instead', async () => {
    const { sb, endpoints } = await fleet();
    endpoints[A]!.ack = { error: 463 };
    const { id } = await sb.send({ to: recipient(1), text: 'restricted?' });
    await until('sent by B', async () =>
      ['sent', 'delivered'].includes((await sb.getMessage(id))?.status ?? ''),
    );
    expect((await sb.getMessage(id))?.master).toBe(B);
    expect(endpoints[A]!.received.map((m) => m.id)).toEqual([id]);
    expect(endpoints[B]!.received.map((m) => m.id)).toEqual([id]);
    expect(sb.getMasterStatus(A).state).not.toBe('healthy');
    expect(sb.getMasterStatus(A).reason).toMatch(/restricted by WhatsApp \(463\)/);
    const notes = (await sb.getMessage(id))?.history.map((h) => h.note ?? '').join(' | ');
    expect(notes).toMatch(/463/);
  });
});
