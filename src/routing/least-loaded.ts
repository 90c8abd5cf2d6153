// least-loaded: power of two choices (Mitzenmacher; Envoy's least_request) on a cost of
// (in-flight + 1) x peak-EWMA latency / weight (Finagle's and Linkerd's peak EWMA). Two random
// eligible masters (drawn with the table's random generator) are compared and the cheaper one wins:
// O(1), no herding on one "best" master.
import type { PoolStrategy } from './strategy.ts';
import type { Pool, RoutingTable } from './table.ts';

/** Random draws per choice before falling back to a scan (when most masters are ineligible). */
const DRAWS = 4;

export function loadCost(table: RoutingTable, i: number): number {
  return ((table.inFlight[i]! + 1) * table.latencyEwma[i]!) / table.weight[i]!;
}

/** loadCost(b) < loadCost(a), without a double crossing a call boundary (V8 would box it). */
function cheaper(table: RoutingTable, b: number, a: number): boolean {
  return (
    ((table.inFlight[b]! + 1) * table.latencyEwma[b]!) / table.weight[b]! <
    ((table.inFlight[a]! + 1) * table.latencyEwma[a]!) / table.weight[a]!
  );
}

export function createLeastLoaded(): PoolStrategy {
  /** The first eligible member other than `not`, scanning from a random position; -1 if none. */
  const scan = (table: RoutingTable, pool: Pool, not: number): number => {
    const n = pool.n;
    const offset = table.draw(n);
    for (let k = 0; k < n; k++) {
      let p = offset + k;
      if (p >= n) p -= n;
      const i = pool.members[p]!;
      if (i !== not && table.eligible(i)) return i;
    }
    return -1;
  };

  const pickIn = (table: RoutingTable, pool: Pool): number => {
    const n = pool.n;
    if (n === 0) return -1;
    if (n === 1) {
      const only = pool.members[0]!;
      return table.eligible(only) ? only : -1;
    }
    let a = -1;
    for (let t = 0; t < DRAWS && a < 0; t++) {
      const i = pool.members[table.draw(n)]!;
      if (table.eligible(i)) a = i;
    }
    if (a < 0) a = scan(table, pool, -1);
    if (a < 0) return -1;
    let b = -1;
    for (let t = 0; t < DRAWS && b < 0; t++) {
      const i = pool.members[table.draw(n)]!;
      if (i !== a && table.eligible(i)) b = i;
    }
    if (b < 0) b = scan(table, pool, a);
    if (b < 0) return a;
    return cheaper(table, b, a) ? b : a;
  };

  return {
    name: 'least-loaded',
    pickIn,
    pick: (table, _to) => pickIn(table, table.all()),
  };
}
