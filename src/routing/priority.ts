// priority: the lowest priority number that has an eligible master wins; a rate-limited or
// unroutable master spills to the next of its group, then to the next group. Masters of equal
// priority share by (smooth weighted) round robin, so ties are not all dumped on one number.
import { pickInRange } from './round-robin.ts';
import type { PoolStrategy } from './strategy.ts';
import type { Pool, RoutingTable } from './table.ts';

export function pickByPriority(table: RoutingTable, pool: Pool): number {
  const n = pool.n;
  for (let start = 0; start < n; ) {
    const end = pool.groupEnd[start]!;
    const i = pickInRange(table, pool.byPriority, start, end, pool.prio);
    if (i >= 0) return i;
    start = end;
  }
  return -1;
}

export function createPriority(): PoolStrategy {
  return {
    name: 'priority',
    pickIn: pickByPriority,
    pick: (table, _to) => pickByPriority(table, table.all()),
  };
}
