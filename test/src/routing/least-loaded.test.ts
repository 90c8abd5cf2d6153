// least-loaded: power of two choices on (in-flight + 1) x peak-EWMA latency / weight, seeded random.
import { describe, expect, it } from 'vitest';
import { createLeastLoaded, loadCost } from '../../../src/routing/least-loaded.ts';
import { seededRandom } from '../../../src/routing/random.ts';
import { decide, routingTable, tally } from '../../support/routing.ts';

describe('least-loaded strategy', () => {
  it('of two masters, picks the one with fewer messages in flight', () => {
    const t = routingTable([{ phone: 'a' }, { phone: 'b' }], { random: seededRandom(1) });
    t.commit(t.indexOf('a'));
    t.commit(t.indexOf('a'));
    expect(decide(t, createLeastLoaded(), 1)).toEqual(['b']);
  });

  it('of two idle masters, picks the faster one by latency EWMA', () => {
    const t = routingTable([{ phone: 'a' }, { phone: 'b' }], { random: seededRandom(2) });
    t.observeLatency(t.indexOf('a'), 900);
    t.observeLatency(t.indexOf('b'), 90);
    expect(decide(t, createLeastLoaded(), 5, { release: true })).toEqual(['b', 'b', 'b', 'b', 'b']);
  });

  it('costs (in-flight + 1) x latency / weight', () => {
    const t = routingTable([{ phone: 'a', weight: 2 }]);
    t.observeLatency(0, 100);
    t.commit(0);
    expect(loadCost(t, 0)).toBe(100);
  });

  it('replays the same choices for the same seed', () => {
    const run = () => {
      const t = routingTable(
        Array.from({ length: 20 }, (_, k) => ({ phone: `m${k}` })),
        { random: seededRandom(42) },
      );
      return decide(t, createLeastLoaded(), 50);
    };
    expect(run()).toEqual(run());
  });

  it('keeps equal masters level: with nothing released, in-flight never differs by more than 3', () => {
    const t = routingTable(
      Array.from({ length: 10 }, (_, k) => ({ phone: `m${k}` })),
      { random: seededRandom(3) },
    );
    const counts = Object.values(tally(decide(t, createLeastLoaded(), 10_000)));
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(3);
  });

  it('finds the only eligible master among many ineligible ones', () => {
    const t = routingTable(Array.from({ length: 50 }, (_, k) => ({ phone: `m${k}`, routable: k === 37 })));
    expect(tally(decide(t, createLeastLoaded(), 20))).toEqual({ m37: 20 });
  });

  it('never picks an unroutable or rate-limited master and answers -1 when none is left', () => {
    const t = routingTable([
      { phone: 'a', routable: false },
      { phone: 'b', ratePerMinute: 6 },
      { phone: 'c', ratePerMinute: 6 },
    ]);
    expect(decide(t, createLeastLoaded(), 3).sort()).toEqual(['-', 'b', 'c']);
    expect(decide(routingTable([]), createLeastLoaded(), 1)).toEqual(['-']);
    expect(decide(routingTable([{ phone: 'a', routable: false }]), createLeastLoaded(), 1)).toEqual(['-']);
  });
});
