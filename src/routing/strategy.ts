// The shape every routing strategy has: a choice of one master index over the routing table.
import type { Pool, RoutingTable } from './table.ts';

export const POOL_STRATEGY_NAMES = ['round-robin', 'priority', 'least-loaded'] as const;
export type PoolStrategyName = (typeof POOL_STRATEGY_NAMES)[number];

export interface RoutingStrategy {
  readonly name: string;
  /**
   * The table index of a master that may take a message for recipient `to` (E.164) at `table.time`, or -1
   * when none can. Only eligible masters (table.eligible) are returned. Must not allocate.
   */
  pick(table: RoutingTable, to: string): number;
}

/** A strategy that can also choose within a subset of the fleet (geolocation's fallback). */
export interface PoolStrategy extends RoutingStrategy {
  readonly name: PoolStrategyName;
  pickIn(table: RoutingTable, pool: Pool): number;
}
