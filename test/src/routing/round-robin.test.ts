// round-robin: smooth weighted round robin (nginx), skipping unroutable and rate-limited masters.
import { describe, expect, it } from 'vitest';
import { createRoundRobin } from '../../../src/routing/round-robin.ts';
import { decide, routingTable, tally } from '../../support/routing.ts';

const rr = createRoundRobin();

describe('round-robin strategy', () => {
  it('gives weights 5, 1, 1 nginx\'s smooth sequence "a a b a c a a"', () => {
    const t = routingTable([
      { phone: 'a', weight: 5 },
      { phone: 'b', weight: 1 },
      { phone: 'c', weight: 1 },
    ]);
    expect(decide(t, rr, 7).join(' ')).toBe('a a b a c a a');
  });

  it('splits 7,000 decisions 5:1:1 exactly for weights 5, 1, 1', () => {
    const t = routingTable([
      { phone: 'a', weight: 5 },
      { phone: 'b', weight: 1 },
      { phone: 'c', weight: 1 },
    ]);
    expect(tally(decide(t, rr, 7_000))).toEqual({ a: 5_000, b: 1_000, c: 1_000 });
  });

  it('gives non-integer weights the same smooth sequence, computed live (no precomputed cycle)', () => {
    const t = routingTable([
      { phone: 'a', weight: 2.5 },
      { phone: 'b', weight: 0.5 },
      { phone: 'c', weight: 0.5 },
    ]);
    expect(decide(t, rr, 7).join(' ')).toBe('a a b a c a a');
  });

  it('divides integer weights by their gcd: weights 10, 20 cycle as 1, 2', () => {
    const t = routingTable([
      { phone: 'a', weight: 10 },
      { phone: 'b', weight: 20 },
    ]);
    expect(decide(t, rr, 6).join(' ')).toBe('b a b b a b');
  });

  it('keeps the weight ratio among the masters left when one is rate-limited (weights 3, 2, 1)', () => {
    const t = routingTable([
      { phone: 'a', weight: 3 },
      { phone: 'b', weight: 2 },
      { phone: 'c', weight: 1, routable: false },
    ]);
    expect(tally(decide(t, rr, 500))).toEqual({ a: 300, b: 200 });
  });

  it('rotates masters of equal weight in table order', () => {
    const t = routingTable([{ phone: 'a' }, { phone: 'b' }, { phone: 'c' }]);
    expect(decide(t, rr, 6).join(' ')).toBe('a b c a b c');
  });

  it('skips an unroutable master and gives it no credit while it is out', () => {
    const t = routingTable([
      { phone: 'a', weight: 2 },
      { phone: 'b', weight: 1, routable: false },
    ]);
    expect(decide(t, rr, 4).join(' ')).toBe('a a a a');
    t.setRoutable(t.indexOf('b'), true);
    expect(tally(decide(t, rr, 3))).toEqual({ a: 2, b: 1 });
  });

  it('skips a rate-limited master and gives it its turn again once its bucket refills', () => {
    // b: 6 per minute, bucket of one token (burstSeconds 10)
    const t = routingTable([{ phone: 'a' }, { phone: 'b', ratePerMinute: 6 }]);
    expect(decide(t, rr, 5).join(' ')).toBe('a b a a a');
    expect(decide(t, rr, 3, { now: 10_000 }).join(' ')).toBe('b a a');
  });

  it('answers -1 for an empty fleet and for a fleet with nothing routable', () => {
    expect(decide(routingTable([]), rr, 1)).toEqual(['-']);
    expect(decide(routingTable([{ phone: 'a', routable: false }]), rr, 1)).toEqual(['-']);
    const weighted = routingTable([
      { phone: 'a', weight: 2, routable: false },
      { phone: 'b', routable: false },
    ]);
    expect(decide(weighted, rr, 1)).toEqual(['-']);
  });

  it('answers -1 when every routable master is rate-limited: the message waits', () => {
    const t = routingTable([
      { phone: 'a', ratePerMinute: 6 },
      { phone: 'b', ratePerMinute: 6 },
    ]);
    expect(decide(t, rr, 3)).toEqual(['a', 'b', '-']);
  });
});
