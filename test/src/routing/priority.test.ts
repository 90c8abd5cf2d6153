// priority: lowest number first, spill to the next when rate-limited or unroutable, ties shared.
import { describe, expect, it } from 'vitest';
import { createPriority } from '../../../src/routing/priority.ts';
import { decide, routingTable, tally } from '../../support/routing.ts';

const priority = createPriority();

describe('priority strategy', () => {
  it('sends everything to the lowest priority number while it has tokens', () => {
    const t = routingTable([
      { phone: 'b', priority: 2 },
      { phone: 'a', priority: 1 },
      { phone: 'c', priority: 3 },
    ]);
    expect(tally(decide(t, priority, 100))).toEqual({ a: 100 });
  });

  it('spills to the next priority when the first is rate-limited, and comes back once it refills', () => {
    // a: 60/min, a bucket of 10
    const t = routingTable([
      { phone: 'a', priority: 1, ratePerMinute: 60 },
      { phone: 'b', priority: 2 },
    ]);
    expect(tally(decide(t, priority, 15))).toEqual({ a: 10, b: 5 });
    expect(decide(t, priority, 2, { now: 1_000 })).toEqual(['a', 'b']);
  });

  it('spills past an unroutable master of higher priority', () => {
    const t = routingTable([
      { phone: 'a', priority: 1, routable: false },
      { phone: 'b', priority: 2 },
    ]);
    expect(decide(t, priority, 2)).toEqual(['b', 'b']);
  });

  it('shares a tie of equal weights by rotation', () => {
    const t = routingTable([
      { phone: 'a', priority: 1 },
      { phone: 'b', priority: 1 },
      { phone: 'c', priority: 2 },
    ]);
    expect(decide(t, priority, 4).join(' ')).toBe('a b a b');
  });

  it('shares a tie by weight (smooth weighted round robin within the group)', () => {
    const t = routingTable([
      { phone: 'a', priority: 1, weight: 2 },
      { phone: 'b', priority: 1, weight: 1 },
      { phone: 'c', priority: 0, routable: false },
    ]);
    expect(tally(decide(t, priority, 300))).toEqual({ a: 200, b: 100 });
  });

  it('follows a priority change at the next decision', () => {
    const t = routingTable([
      { phone: 'a', priority: 1 },
      { phone: 'b', priority: 2 },
    ]);
    expect(decide(t, priority, 1)).toEqual(['a']);
    t.setPriority(t.indexOf('b'), 0);
    expect(decide(t, priority, 1)).toEqual(['b']);
  });

  it('answers -1 when every master is unroutable or rate-limited', () => {
    const t = routingTable([
      { phone: 'a', priority: 1, routable: false },
      { phone: 'b', priority: 2, ratePerMinute: 6 },
    ]);
    expect(decide(t, priority, 2)).toEqual(['b', '-']);
    expect(decide(routingTable([]), priority, 1)).toEqual(['-']);
  });
});
