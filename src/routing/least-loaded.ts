// least-loaded: power of two choices (Mitzenmacher; Envoy's least_request) on a cost of
// (in-flight + 1) x peak-EWMA latency / weight (Finagle's and Linkerd's peak EWMA). Two random
// eligible masters are compared and the cheaper one wins: O(1), no herding on one "best" master.
import type { PoolStrategy } from './strategy.ts';
import type { Pool, RoutingTable } from './table.ts';

/** Random draws per choice before falling back to a scan (when most masters are ineligible). */
const DRAWS = 4;

export function loadCost(table: RoutingTable, i: number): number {
  return ((table.inFlight[i]! + 1) * table.latencyEwma[i]!) / table.weight[i]!;
}

export function createLeastLoaded(random: () => number): PoolStrategy {
  /** The first eligible member other than `not`, scanning from a random position; -1 if none. */
  const scan = (table: RoutingTable, pool: Pool, now: number, not: number): number => {
    const n = pool.n;
    const offset = Math.floor(random() * n);
    for (let k = 0; k < n; k++) {
      let p = offset + k;
      if (p >= n) p -= n;
      const i = pool.members[p]!;
      if (i !== not && table.eligible(i, now)) return i;
    }
    return -1;
  };

  const pickIn = (table: RoutingTable, pool: Pool, now: number): number => {
    const n = pool.n;
    if (n === 0) return -1;
    if (n === 1) {
      const only = pool.members[0]!;
      return table.eligible(only, now) ? only : -1;
    }
    let a = -1;
    for (let t = 0; t < DRAWS && a < 0; t++) {
      const i = pool.members[Math.floor(random() * n)]!;
      if (table.eligible(i, now)) a = i;
    }
    if (a < 0) a = scan(table, pool, now, -1);
    if (a < 0) return -1;
    let b = -1;
    for (let t = 0; t < DRAWS && b < 0; t++) {
      const i = pool.members[Math.floor(random() * n)]!;
      if (i !== a && table.eligible(i, now)) b = i;
    }
    if (b < 0) b = scan(table, pool, now, a);
    if (b < 0) return a;
    return loadCost(table, b) < loadCost(table, a) ? b : a;
  };

  return {
    name: 'least-loaded',
    pickIn,
    pick: (table, _to, now) => pickIn(table, table.all(), now),
  };
}
