// Balance quality, 0-100: how close the recent traffic of the routable masters is to their weights,
// evaluated at the table's time.
import type { RoutingTable } from './table.ts';

/**
 * quality = round(100 x (1 - TVD)), TVD = 1/2 x sum over routable masters i of |a_i/A - w_i/W|,
 * where a_i is master i's recent assignments (exponentially decayed, table `shareHalfLifeMs`),
 * A their sum, w_i its weight and W the sum of routable weights. TVD is the total variation
 * distance between the observed and the weight-proportional distribution: 0 when traffic follows
 * the weights exactly (100), 1 when it all went where it should not have (0). Unroutable masters
 * are left out of both sides. Fewer than two routable masters or no recent traffic: 100 (nothing
 * to balance). The priority strategy concentrates load by design and scores low on this scale.
 */
export function balanceQuality(table: RoutingTable): number {
  let routable = 0;
  let weights = 0;
  let assigned = 0;
  for (let i = 0; i < table.size; i++) {
    if (table.routable[i] !== 1) continue;
    routable++;
    weights += table.weight[i]!;
    assigned += table.recentCount(i);
  }
  if (routable < 2 || assigned <= 0) return 100;
  let distance = 0;
  for (let i = 0; i < table.size; i++) {
    if (table.routable[i] !== 1) continue;
    distance += Math.abs(table.recentCount(i) / assigned - table.weight[i]! / weights);
  }
  return Math.round(100 * (1 - distance / 2));
}
