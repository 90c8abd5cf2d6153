// The routing table: token buckets, warm-up ramp, in-flight limit, peak EWMA, removal.
import { describe, expect, it } from 'vitest';
import { createRoundRobin } from '../../../src/routing/round-robin.ts';
import { RoutingTable } from '../../../src/routing/table.ts';

/** Sets the table's decision time. */
function at(t: RoutingTable, now: number): RoutingTable {
  t.time[0] = now;
  return t;
}

const master = { phone: '+971501234567', priority: 1, region: 'AE', weight: 1, ratePerMinute: 60 };

describe('routing table', () => {
  it('adds a master as not routable until told so', () => {
    const t = new RoutingTable();
    const i = t.add(master);
    expect(at(t, 0).eligible(i)).toBe(false);
    t.setRoutable(i, true);
    expect(at(t, 0).eligible(i)).toBe(true);
  });

  it('gives ratePerMinute 60 a bucket of 10 tokens (burstSeconds 10), then one token a second', () => {
    const t = new RoutingTable();
    const i = t.add(master);
    t.setRoutable(i, true);
    let taken = 0;
    while (at(t, 0).eligible(i)) {
      at(t, 0).commit(i);
      taken++;
    }
    expect(taken).toBe(10);
    expect(at(t, 999).eligible(i)).toBe(false);
    expect(at(t, 1_000).eligible(i)).toBe(true);
    at(t, 1_000).commit(i);
    expect(at(t, 1_000).eligible(i)).toBe(false);
    // a long pause refills no more than the bucket holds
    at(t, 3_600_000).refill(i);
    expect(t.tokens[i]).toBe(10);
  });

  it('holds at least one token however low the rate', () => {
    const t = new RoutingTable({ burstSeconds: 1 });
    const i = t.add({ ...master, ratePerMinute: 1 });
    t.setRoutable(i, true);
    expect(at(t, 0).eligible(i)).toBe(true);
    at(t, 0).commit(i);
    expect(at(t, 59_999).eligible(i)).toBe(false);
    expect(at(t, 60_000).eligible(i)).toBe(true);
  });

  it('ramps a warming-up number from 10% of its rate to all of it over warmUpMs, starting with one token', () => {
    const t = new RoutingTable();
    const i = t.add({ ...master, ratePerMinute: 600, warmUpMs: 60_000 });
    t.setRoutable(i, true);
    expect(at(t, 0).rateFraction(i)).toBeCloseTo(0.1);
    expect(at(t, 30_000).rateFraction(i)).toBeCloseTo(0.55);
    expect(at(t, 60_000).rateFraction(i)).toBe(1);
    at(t, 0).commit(i);
    expect(at(t, 0).eligible(i)).toBe(false);
    // 600/min at 10% (and ramping): about one token per second
    expect(at(t, 800).eligible(i)).toBe(false);
    expect(at(t, 1_000).eligible(i)).toBe(true);
    // warmed up: a full bucket of 100 (10 s of 600/min)
    expect(at(t, 120_000).capacity(i)).toBe(100);
  });

  it('skips a master at maxInFlight until one of its messages is released', () => {
    const t = new RoutingTable({ maxInFlight: 2 });
    const i = t.add({ ...master, ratePerMinute: 6_000 });
    t.setRoutable(i, true);
    at(t, 0).commit(i);
    at(t, 0).commit(i);
    expect(at(t, 0).eligible(i)).toBe(false);
    t.release(i, 'sent', 100);
    expect(at(t, 0).eligible(i)).toBe(true);
  });

  it('counts sent, failed and moved releases and never goes below zero in flight', () => {
    const t = new RoutingTable();
    const i = t.add(master);
    t.setRoutable(i, true);
    at(t, 0).commit(i);
    at(t, 0).commit(i);
    at(t, 0).commit(i);
    t.release(i, 'sent', 100);
    t.release(i, 'failed', undefined);
    t.release(i, 'moved', undefined);
    t.release(i, 'moved', undefined);
    expect([t.inFlight[i], t.completed[i], t.failed[i], t.assigned[i]]).toEqual([0, 1, 1, 3]);
  });

  it('takes a slower latency sample at once and blends a faster one in (peak EWMA, alpha 0.3)', () => {
    const t = new RoutingTable();
    const i = t.add(master);
    t.observeLatency(i, 100);
    expect(t.latencyEwma[i]).toBe(100);
    t.observeLatency(i, 1_000);
    expect(t.latencyEwma[i]).toBe(1_000);
    t.observeLatency(i, 100);
    expect(t.latencyEwma[i]).toBeCloseTo(730);
  });

  it('starts a new master at the fleet mean latency, or defaultLatencyMs in an unmeasured fleet', () => {
    const t = new RoutingTable({ defaultLatencyMs: 250 });
    const a = t.add(master);
    expect(t.latencyEwma[a]).toBe(250);
    t.observeLatency(a, 40);
    const b = t.add({ ...master, phone: '+971501234568' });
    expect(t.latencyEwma[b]).toBe(40);
  });

  it("moves the last row into a removed master's place, counters and all", () => {
    const t = new RoutingTable();
    for (const phone of ['+971501234561', '+971501234562', '+971501234563'])
      t.setRoutable(t.add({ ...master, phone }), true);
    at(t, 0).commit(2);
    expect(t.remove('+971501234561')).toBe(true);
    expect(t.remove('+971501234561')).toBe(false);
    expect(t.size).toBe(2);
    expect(t.indexOf('+971501234563')).toBe(0);
    expect(t.inFlight[0]).toBe(1);
    expect(t.all().n).toBe(2);
  });

  it('keeps one pool per region and an empty pool for a region it has no master in', () => {
    const t = new RoutingTable();
    t.add({ ...master, phone: '+971501234561' });
    t.add({ ...master, phone: '+14155552671', region: 'US' });
    expect(t.region('AE').n).toBe(1);
    expect(t.region('US').n).toBe(1);
    expect(t.region('GB').n).toBe(0);
  });

  it('re-adding a known master updates its settings and keeps its counters', () => {
    const t = new RoutingTable();
    const i = t.add(master);
    at(t, 0).commit(i);
    expect(t.add({ ...master, weight: 3, region: 'US' })).toBe(i);
    expect([t.weight[i], t.regions[i], t.assigned[i]]).toEqual([3, 'US', 1]);
  });

  it('checkpoint() puts rotation cursors and random state back after a dry run', () => {
    const t = new RoutingTable();
    for (const phone of ['+971501234561', '+971501234562']) t.setRoutable(t.add({ ...master, phone }), true);
    const rr = createRoundRobin();
    const rng = t.rng[0];
    const restore = t.checkpoint();
    expect(rr.pick(t, '+971501234567')).toBe(0);
    t.draw(10);
    restore();
    expect(t.rng[0]).toBe(rng);
    expect(rr.pick(t, '+971501234567')).toBe(0);
    expect(rr.pick(t, '+971501234567')).toBe(1);
  });
});
