// Balance quality: 100 x (1 - total variation distance between recent traffic and weights).
import { describe, expect, it } from 'vitest';
import { balanceQuality } from '../../../src/routing/quality.ts';
import { routingTable } from '../../support/routing.ts';

function assign(t: ReturnType<typeof routingTable>, phone: string, n: number, now = 0) {
  t.time[0] = now;
  for (let k = 0; k < n; k++) t.commit(t.indexOf(phone));
}

describe('balance quality', () => {
  it('is 100 when equal masters got equal traffic', () => {
    const t = routingTable([{ phone: 'a' }, { phone: 'b' }]);
    assign(t, 'a', 10);
    assign(t, 'b', 10);
    expect(balanceQuality(t)).toBe(100);
  });

  it('is 50 when one of two equal masters got everything', () => {
    const t = routingTable([{ phone: 'a' }, { phone: 'b' }]);
    assign(t, 'a', 10);
    expect(balanceQuality(t)).toBe(50);
  });

  it('is 100 when traffic follows the weights', () => {
    const t = routingTable([{ phone: 'a', weight: 3 }, { phone: 'b' }]);
    assign(t, 'a', 30);
    assign(t, 'b', 10);
    expect(balanceQuality(t)).toBe(100);
  });

  it('leaves unroutable masters out', () => {
    const t = routingTable([{ phone: 'a' }, { phone: 'b' }, { phone: 'c', routable: false }]);
    assign(t, 'a', 10);
    assign(t, 'b', 10);
    expect(balanceQuality(t)).toBe(100);
  });

  it('is 100 with fewer than two routable masters or no traffic', () => {
    expect(balanceQuality(routingTable([{ phone: 'a' }, { phone: 'b' }]))).toBe(100);
    const one = routingTable([{ phone: 'a' }, { phone: 'b', routable: false }]);
    assign(one, 'a', 5);
    expect(balanceQuality(one)).toBe(100);
  });

  it('forgets old traffic: a minute-old imbalance counts half as much (shareHalfLifeMs 60 s)', () => {
    const t = routingTable([{ phone: 'a' }, { phone: 'b' }]);
    assign(t, 'a', 20, 0);
    assign(t, 'b', 10, 60_000);
    // assign() left the table's time at 60 s: a's 20 have decayed to 10
    expect(balanceQuality(t)).toBe(100);
  });
});
