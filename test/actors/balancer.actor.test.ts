// The balancer actor with real master actors over the sim transport, on one SimulatedClock: it
// follows the "routable" tag, keeps contact affinity across failover, and reports its load.
import { afterEach, describe, expect, it } from 'vitest';
import { type AffinityMove, createBalancer, MemoryAffinityStore } from '../../actors/balancer.actor.ts';
import { simFleet } from '../support/fleet.ts';

const A = '+971501234567';
const B = '+971501234568';
const US = '+14155552671';
const R1 = '+971509999001';
const R2 = '+971509999002';
const R3 = '+971509999003';

const route = (phone: string, extra: object = {}) => ({
  phone,
  priority: 1,
  region: phone.startsWith('+1') ? 'US' : 'AE',
  weight: 1,
  ratePerMinute: 600,
  ...extra,
});

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function setup(
  phones: string[],
  options: Parameters<typeof createBalancer>[0] = {},
  routes: Record<string, object> = {},
) {
  const fleet = simFleet(phones);
  const moves: AffinityMove[] = [];
  const store = new MemoryAffinityStore();
  const balancer = createBalancer({
    clock: fleet.clock,
    affinityStore: store,
    onAffinityMoved: (m) => moves.push(m),
    ...options,
  });
  for (const phone of phones) balancer.addMaster(route(phone, routes[phone]), fleet.actor(phone));
  cleanups.push(() => {
    balancer.stop();
    fleet.stop();
  });
  return { fleet, balancer, store, moves };
}

describe('balancer actor over real master actors', () => {
  it('routes nothing while the masters connect, and to them once their snapshots carry "routable"', async () => {
    const { fleet, balancer } = setup([A, B]);
    expect(balancer.select(R1)).toBeNull();
    expect(balancer.actor.getSnapshot().value).toBe('waiting');
    await fleet.advance(100);
    expect([balancer.isRoutable(A), balancer.isRoutable(B)]).toEqual([true, true]);
    expect(balancer.actor.getSnapshot().hasTag('ready')).toBe(true);
    expect([balancer.select(R1), balancer.select(R2)]).toEqual([A, B]);
  });

  it('answers null for an empty fleet', () => {
    const balancer = createBalancer();
    cleanups.push(() => balancer.stop());
    expect(balancer.select(R1)).toBeNull();
    expect(balancer.hasCapacity()).toBe(false);
  });

  it('never routes to a failed master: with every master logged out it answers null', async () => {
    const { fleet, balancer } = setup([A, B]);
    await fleet.advance(100);
    fleet.fault(A, 'logout');
    fleet.fault(B, 'logout');
    await fleet.advance(50);
    expect(fleet.actor(A).getSnapshot().matches({ failed: 'needsRepair' })).toBe(true);
    expect(balancer.select(R1)).toBeNull();
    expect(balancer.hasCapacity()).toBe(false);
    expect(balancer.actor.getSnapshot().value).toBe('waiting');
  });

  it('keeps routing to a "degraded" master (it is still "routable")', async () => {
    const { fleet, balancer } = setup([A], { affinity: false });
    await fleet.advance(100);
    fleet.fault(A, 'slow', { latencyMs: 1_800 });
    await fleet.advance(8_000);
    expect(fleet.actor(A).getSnapshot().value).toBe('degraded');
    expect(balancer.select(R1)).toBe(A);
  });

  it('sends a second message to a recipient to the same master before the first is sent', async () => {
    const { fleet, balancer, store } = setup([A, B]);
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A);
    expect(balancer.select(R2)).toBe(B);
    expect(balancer.select(R1)).toBe(A);
    expect(balancer.select(R1)).toBe(A);
    expect(store.get(R1)).toBe(A);
    expect(balancer.getLoadDistribution().distribution.find((d) => d.phone === A)?.inFlight).toBe(3);
  });

  it('affinity across failover: the sticky master goes down, the recipient moves and the move is recorded; after recovery it stays on the new master', async () => {
    const { fleet, balancer, store, moves } = setup(
      [A, B],
      { strategy: 'priority' },
      { [B]: { priority: 2 } },
    );
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A);
    balancer.release(A, 'sent', 25);

    fleet.fault(A, 'disconnect');
    await fleet.advance(50);
    expect(fleet.actor(A).getSnapshot().hasTag('routable')).toBe(false);
    expect(balancer.isRoutable(A)).toBe(false);
    expect(balancer.select(R1)).toBe(B);
    expect(store.get(R1)).toBe(B);
    expect(moves).toEqual([{ recipient: R1, from: A, to: B, reason: 'unroutable', at: expect.any(Number) }]);
    expect(balancer.getLoadDistribution().affinityMoves).toBe(1);

    fleet.fault(A, 'heal');
    await fleet.advance(30_000);
    expect(fleet.actor(A).getSnapshot().value).toBe('healthy');
    expect(balancer.isRoutable(A)).toBe(true);
    // the chat is warm on B now: it stays there; a new recipient goes by priority again
    expect(balancer.select(R1)).toBe(B);
    expect(balancer.select(R2)).toBe(A);
    expect(moves).toHaveLength(1);
  });

  it('follows an affinity the store moved during a failover without counting a move', async () => {
    const { fleet, balancer, store, moves } = setup(
      [A, B],
      { strategy: 'priority' },
      { [B]: { priority: 2 } },
    );
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A);
    store.set(R1, B); // what the store does when a failover moves A's contacts to B
    expect(balancer.select(R1)).toBe(B);
    expect(moves).toEqual([]);
  });

  it('a sticky master that is routable but rate-limited makes its recipient wait (null), others still go', async () => {
    const { fleet, balancer, moves } = setup([A, B], {}, { [A]: { ratePerMinute: 6 } });
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A); // A's only token
    expect(balancer.select(R1)).toBeNull();
    expect(balancer.select(R2)).toBe(B);
    await fleet.advance(10_000);
    expect(balancer.select(R1)).toBe(A);
    expect(moves).toEqual([]);
  });

  it('with whenStickyLimited "spill" a rate-limited sticky master hands its recipient on, recorded as "rate-limited"', async () => {
    const { fleet, balancer, moves } = setup(
      [A, B],
      { whenStickyLimited: 'spill' },
      { [A]: { ratePerMinute: 6 } },
    );
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A);
    expect(balancer.select(R1)).toBe(B);
    expect(moves.map((m) => m.reason)).toEqual(['rate-limited']);
  });

  it('select(to, avoid) retries elsewhere after a failed send: the recipient moves with reason "avoided"', async () => {
    const { fleet, balancer, store, moves } = setup([A, B]);
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A);
    balancer.release(A, 'failed');
    expect(balancer.select(R1, A)).toBe(B);
    expect(store.get(R1)).toBe(B);
    expect(moves.map((m) => [m.from, m.to, m.reason])).toEqual([[A, B, 'avoided']]);
    expect(balancer.isRoutable(A)).toBe(true);
    // with nowhere else to go, the retry waits rather than going back to the avoided master
    balancer.removeMaster(B);
    expect(balancer.select(R1, A)).toBeNull();
    expect(balancer.select(R2, A)).toBeNull();
    expect(balancer.select(R2)).toBe(A);
  });

  it('with affinity off, a recipient follows the strategy every time', async () => {
    const { fleet, balancer, store } = setup([A, B]);
    balancer.setAffinity(false);
    expect(balancer.getLoadDistribution().affinity).toBe(false);
    await fleet.advance(100);
    expect([balancer.select(R1), balancer.select(R1), balancer.select(R1)]).toEqual([A, B, A]);
    expect(store.get(R1)).toBeUndefined();
  });

  it('takes masters added and removed at run time; a removed master\'s recipients move with reason "removed"', async () => {
    const { fleet, balancer, moves } = setup([A]);
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A);
    balancer.addMaster(route(B), fleet.start(B));
    expect(balancer.isRoutable(B)).toBe(false);
    await fleet.advance(100);
    expect(balancer.isRoutable(B)).toBe(true);
    balancer.removeMaster(A);
    expect(balancer.isRoutable(A)).toBe(false);
    expect(balancer.select(R1)).toBe(B);
    expect(balancer.select(R2)).toBe(B);
    expect(moves.map((m) => [m.from, m.to, m.reason])).toEqual([[A, B, 'removed']]);
    expect(balancer.actor.getSnapshot().context).toMatchObject({ masters: 1, routable: 1 });
    // no longer follows A's snapshots
    fleet.fault(A, 'logout');
    await fleet.advance(50);
    expect(balancer.getLoadDistribution().distribution.map((d) => d.phone)).toEqual([B]);
  });

  it('treats a stopped master actor as not routable', async () => {
    const { fleet, balancer } = setup([A, B]);
    await fleet.advance(100);
    fleet.actor(A).stop();
    expect(balancer.isRoutable(A)).toBe(false);
    expect([balancer.select(R1), balancer.select(R2)]).toEqual([B, B]);
  });

  it('routes by the recipient\'s country under "geolocation"', async () => {
    const { fleet, balancer } = setup([A, US], { strategy: 'geolocation' });
    await fleet.advance(100);
    expect(balancer.select('+12125550123')).toBe(US);
    expect(balancer.select(R1)).toBe(A);
  });

  it('switches strategy at run time and refuses an unknown one with the valid names', async () => {
    const { balancer } = setup([A]);
    expect(balancer.getStrategy()).toBe('round-robin');
    balancer.setStrategy('least-loaded');
    expect(balancer.getStrategy()).toBe('least-loaded');
    expect(balancer.actor.getSnapshot().context.strategy).toBe('least-loaded');
    expect(() => balancer.setStrategy('fastest')).toThrow(
      expect.objectContaining({
        code: 'SB_ERR_UNKNOWN_STRATEGY',
        statusCode: 400,
        message: expect.stringContaining('round-robin, priority, least-loaded, geolocation'),
      }),
    );
    expect(balancer.getStrategy()).toBe('least-loaded');
    expect(balancer.getAvailableStrategies()).toEqual([
      'round-robin',
      'priority',
      'least-loaded',
      'geolocation',
    ]);
    expect(() => createBalancer({ strategy: 'nope' })).toThrow(/valid strategies are/);
  });

  it('updateRoutingPriorities reorders priority routing; an unknown master is a 404, a bad priority a 400', async () => {
    const { fleet, balancer } = setup(
      [A, B],
      { strategy: 'priority', affinity: false },
      { [B]: { priority: 2 } },
    );
    await fleet.advance(100);
    expect(balancer.select(R1)).toBe(A);
    balancer.updateRoutingPriorities(B, 0);
    expect(balancer.select(R1)).toBe(B);
    expect(() => balancer.updateRoutingPriorities('+971500000000', 1)).toThrow(
      expect.objectContaining({ code: 'SB_ERR_UNKNOWN_MASTER', statusCode: 404 }),
    );
    expect(() => balancer.updateRoutingPriorities(A, -1)).toThrow(
      expect.objectContaining({ code: 'SB_ERR_VALIDATION', statusCode: 400 }),
    );
  });

  it('peek() tells where a message would go without taking a token, moving the rotation or recording affinity', async () => {
    const { fleet, balancer, store } = setup([A, B], {}, { [A]: { ratePerMinute: 6 } });
    await fleet.advance(100);
    expect(balancer.peek(R1)).toBe(A);
    expect(balancer.peek(R1)).toBe(A);
    expect(store.get(R1)).toBeUndefined();
    expect(balancer.select(R1)).toBe(A); // A's only token
    expect(balancer.peek(R1)).toBeNull(); // sticky and rate-limited: it would wait
    expect(balancer.peek(R2)).toBe(B);
    expect(balancer.select(R2)).toBe(B);
    expect(balancer.getLoadDistribution().distribution.map((d) => d.inFlight)).toEqual([1, 1]);
  });

  it('reports the load distribution of GET /api/balancer', async () => {
    const { fleet, balancer } = setup([A, B]);
    await fleet.advance(100);
    for (const r of [R1, R2, R3]) balancer.select(r);
    balancer.release(A, 'sent', 20);
    balancer.release(A, 'failed');
    balancer.release(B, 'sent', 40);
    const report = balancer.getLoadDistribution();
    expect(report).toMatchObject({
      strategy: 'round-robin',
      strategies: ['round-robin', 'priority', 'least-loaded', 'geolocation'],
      affinity: true,
      affinityMoves: 0,
    });
    expect(report.distribution).toEqual([
      expect.objectContaining({
        phone: A,
        inFlight: 0,
        completed: 1,
        failed: 1,
        avgLatencyMs: 20,
        routable: true,
      }),
      expect.objectContaining({
        phone: B,
        inFlight: 0,
        completed: 1,
        failed: 0,
        avgLatencyMs: 40,
        routable: true,
      }),
    ]);
    expect(report.distribution.map((d) => d.share)).toEqual([0.6667, 0.3333]);
    // observed 2/3 : 1/3 against 1/2 : 1/2 -> TVD 1/6 -> 83
    expect(report.quality).toBe(83);
  });
});
