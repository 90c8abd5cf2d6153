// The routing table: token buckets, warm-up ramp, in-flight limit, peak EWMA, removal.
import { describe, expect, it } from 'vitest';
import { RoutingTable } from '../../../src/routing/table.ts';

const master = { phone: '+971501234567', priority: 1, region: 'AE', weight: 1, ratePerMinute: 60 };

describe('routing table', () => {
  it('adds a master as not routable until told so', () => {
    const t = new RoutingTable();
    const i = t.add(master, 0);
    expect(t.eligible(i, 0)).toBe(false);
    t.setRoutable(i, true);
    expect(t.eligible(i, 0)).toBe(true);
  });

  it('gives ratePerMinute 60 a bucket of 10 tokens (burstSeconds 10), then one token a second', () => {
    const t = new RoutingTable();
    const i = t.add(master, 0);
    t.setRoutable(i, true);
    let taken = 0;
    while (t.eligible(i, 0)) {
      t.commit(i, 0);
      taken++;
    }
    expect(taken).toBe(10);
    expect(t.eligible(i, 999)).toBe(false);
    expect(t.eligible(i, 1_000)).toBe(true);
    t.commit(i, 1_000);
    expect(t.eligible(i, 1_000)).toBe(false);
    // a long pause refills no more than the bucket holds
    expect(t.refill(i, 3_600_000)).toBe(10);
  });

  it('holds at least one token however low the rate', () => {
    const t = new RoutingTable({ burstSeconds: 1 });
    const i = t.add({ ...master, ratePerMinute: 1 }, 0);
    t.setRoutable(i, true);
    expect(t.eligible(i, 0)).toBe(true);
    t.commit(i, 0);
    expect(t.eligible(i, 59_999)).toBe(false);
    expect(t.eligible(i, 60_000)).toBe(true);
  });

  it('ramps a warming-up number from 10% of its rate to all of it over warmUpMs, starting with one token', () => {
    const t = new RoutingTable();
    const i = t.add({ ...master, ratePerMinute: 600, warmUpMs: 60_000 }, 0);
    t.setRoutable(i, true);
    expect(t.rateFraction(i, 0)).toBeCloseTo(0.1);
    expect(t.rateFraction(i, 30_000)).toBeCloseTo(0.55);
    expect(t.rateFraction(i, 60_000)).toBe(1);
    t.commit(i, 0);
    expect(t.eligible(i, 0)).toBe(false);
    // 600/min at 10% (and ramping): about one token per second
    expect(t.eligible(i, 800)).toBe(false);
    expect(t.eligible(i, 1_000)).toBe(true);
    // warmed up: a full bucket of 100 (10 s of 600/min)
    expect(t.capacity(i, 120_000)).toBe(100);
  });

  it('skips a master at maxInFlight until one of its messages is released', () => {
    const t = new RoutingTable({ maxInFlight: 2 });
    const i = t.add({ ...master, ratePerMinute: 6_000 }, 0);
    t.setRoutable(i, true);
    t.commit(i, 0);
    t.commit(i, 0);
    expect(t.eligible(i, 0)).toBe(false);
    t.release(i, 'sent', 100);
    expect(t.eligible(i, 0)).toBe(true);
  });

  it('counts sent, failed and moved releases and never goes below zero in flight', () => {
    const t = new RoutingTable();
    const i = t.add(master, 0);
    t.setRoutable(i, true);
    t.commit(i, 0);
    t.commit(i, 0);
    t.commit(i, 0);
    t.release(i, 'sent', 100);
    t.release(i, 'failed', undefined);
    t.release(i, 'moved', undefined);
    t.release(i, 'moved', undefined);
    expect([t.inFlight[i], t.completed[i], t.failed[i], t.assigned[i]]).toEqual([0, 1, 1, 3]);
  });

  it('takes a slower latency sample at once and blends a faster one in (peak EWMA, alpha 0.3)', () => {
    const t = new RoutingTable();
    const i = t.add(master, 0);
    t.observeLatency(i, 100);
    expect(t.latencyEwma[i]).toBe(100);
    t.observeLatency(i, 1_000);
    expect(t.latencyEwma[i]).toBe(1_000);
    t.observeLatency(i, 100);
    expect(t.latencyEwma[i]).toBeCloseTo(730);
  });

  it('starts a new master at the fleet mean latency, or defaultLatencyMs in an unmeasured fleet', () => {
    const t = new RoutingTable({ defaultLatencyMs: 250 });
    const a = t.add(master, 0);
    expect(t.latencyEwma[a]).toBe(250);
    t.observeLatency(a, 40);
    const b = t.add({ ...master, phone: '+971501234568' }, 0);
    expect(t.latencyEwma[b]).toBe(40);
  });

  it("moves the last row into a removed master's place, counters and all", () => {
    const t = new RoutingTable();
    for (const phone of ['+971501234561', '+971501234562', '+971501234563'])
      t.setRoutable(t.add({ ...master, phone }, 0), true);
    t.commit(2, 0);
    expect(t.remove('+971501234561')).toBe(true);
    expect(t.remove('+971501234561')).toBe(false);
    expect(t.size).toBe(2);
    expect(t.indexOf('+971501234563')).toBe(0);
    expect(t.inFlight[0]).toBe(1);
    expect(t.all().n).toBe(2);
  });

  it('keeps one pool per region and an empty pool for a region it has no master in', () => {
    const t = new RoutingTable();
    t.add({ ...master, phone: '+971501234561' }, 0);
    t.add({ ...master, phone: '+14155552671', region: 'US' }, 0);
    expect(t.region('AE').n).toBe(1);
    expect(t.region('US').n).toBe(1);
    expect(t.region('GB').n).toBe(0);
  });

  it('re-adding a known master updates its settings and keeps its counters', () => {
    const t = new RoutingTable();
    const i = t.add(master, 0);
    t.commit(i, 0);
    expect(t.add({ ...master, weight: 3, region: 'US' }, 0)).toBe(i);
    expect([t.weight[i], t.regions[i], t.assigned[i]]).toEqual([3, 'US', 1]);
  });
});
