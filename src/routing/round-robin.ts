// round-robin: smooth weighted round robin as nginx does it (ngx_http_upstream_get_peer): every
// eligible master gains its weight, the one with the most is chosen and loses the total.
// With equal weights that is plain rotation, done with a cursor that stops at the first eligible master.
import type { PoolStrategy } from './strategy.ts';
import type { Pool, RangeState, RoutingTable } from './table.ts';

/**
 * Chooses among `order[start..end)`. Equal weights: rotate from the range's cursor (scans only up to
 * the first eligible master). Otherwise smooth weighted round robin over the eligible ones; masters
 * skipped (unroutable, rate-limited) gain nothing, as nginx skips down peers. Ties go to the first.
 */
export function pickInRange(
  table: RoutingTable,
  order: Int32Array,
  start: number,
  end: number,
  state: RangeState,
  now: number,
): number {
  const len = end - start;
  if (len <= 0) return -1;
  if (state.uniform[start] === 1) {
    const cursor = state.cursor[start]!;
    for (let k = 0; k < len; k++) {
      let p = cursor + k;
      if (p >= len) p -= len;
      const i = order[start + p]!;
      if (table.eligible(i, now)) {
        state.cursor[start] = p + 1 === len ? 0 : p + 1;
        return i;
      }
    }
    return -1;
  }
  let best = -1;
  let bestPos = -1;
  let bestCurrent = Number.NEGATIVE_INFINITY;
  let total = 0;
  for (let p = start; p < end; p++) {
    const i = order[p]!;
    if (!table.eligible(i, now)) continue;
    const w = table.weight[i]!;
    const current = state.current[p]! + w;
    state.current[p] = current;
    total += w;
    if (current > bestCurrent) {
      bestCurrent = current;
      best = i;
      bestPos = p;
    }
  }
  if (bestPos >= 0) state.current[bestPos]! -= total;
  return best;
}

export function createRoundRobin(): PoolStrategy {
  const pickIn = (table: RoutingTable, pool: Pool, now: number) =>
    pickInRange(table, pool.members, 0, pool.n, pool.rr, now);
  return {
    name: 'round-robin',
    pickIn,
    pick: (table, _to, now) => pickIn(table, table.all(), now),
  };
}
