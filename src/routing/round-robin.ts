// round-robin: smooth weighted round robin as nginx does it (ngx_http_upstream_get_peer): every
// eligible master gains its weight, the one with the most is chosen and loses the total.
// Equal weights: plain rotation with a cursor that stops at the first eligible master. Integer
// weights: nginx's sequence for one cycle is precomputed when the fleet changes and walked with a
// cursor, so a decision costs O(1) rather than a pass over every master.
import type { PoolStrategy } from './strategy.ts';
import { type Pool, RANGE_ROTATE, RANGE_SCHEDULE, type RangeState, type RoutingTable } from './table.ts';

/**
 * Chooses among `order[start..end)`. Masters that cannot take a message now (unroutable,
 * rate-limited, at their in-flight limit) are passed over: in a rotation or a schedule their turn
 * goes to the next eligible entry, so over a cycle the eligible ones keep their weight ratios; in
 * live smooth weighted round robin (non-integer weights) they gain nothing, as nginx skips down peers.
 */
export function pickInRange(
  table: RoutingTable,
  order: Int32Array,
  start: number,
  end: number,
  state: RangeState,
): number {
  const len = end - start;
  if (len <= 0) return -1;
  const mode = state.mode[start];
  if (mode === RANGE_ROTATE) {
    const cursor = state.cursor[start]!;
    for (let k = 0; k < len; k++) {
      let p = cursor + k;
      if (p >= len) p -= len;
      const i = order[start + p]!;
      if (table.eligible(i)) {
        state.cursor[start] = p + 1 === len ? 0 : p + 1;
        return i;
      }
    }
    return -1;
  }
  if (mode === RANGE_SCHEDULE) {
    const base = state.scheduleStart[start]!;
    const cycle = state.scheduleLength[start]!;
    let c = state.cursor[start]!;
    for (let k = 0; k < cycle; k++) {
      const i = order[state.schedule[base + c]!]!;
      c = c + 1 === cycle ? 0 : c + 1;
      if (table.eligible(i)) {
        state.cursor[start] = c;
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
    if (!table.eligible(i)) continue;
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
  const pickIn = (table: RoutingTable, pool: Pool) => pickInRange(table, pool.members, 0, pool.n, pool.rr);
  return {
    name: 'round-robin',
    pickIn,
    pick: (table, _to) => pickIn(table, table.all()),
  };
}
