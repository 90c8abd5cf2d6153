// The strategies by name: the list the API shows, and the one place an unknown name is refused.
import { SwitchboardError } from '../errors.ts';
import { createGeolocation } from './geolocation.ts';
import { createLeastLoaded } from './least-loaded.ts';
import { createPriority } from './priority.ts';
import { CountryLookup } from './recipient-country.ts';
import { createRoundRobin } from './round-robin.ts';
import {
  POOL_STRATEGY_NAMES,
  type PoolStrategy,
  type PoolStrategyName,
  type RoutingStrategy,
} from './strategy.ts';

export const STRATEGY_NAMES = ['round-robin', 'priority', 'least-loaded', 'geolocation'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

export function isStrategyName(name: unknown): name is StrategyName {
  return typeof name === 'string' && (STRATEGY_NAMES as readonly string[]).includes(name);
}

function unknown(what: string, name: unknown, valid: readonly string[]): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_UNKNOWN_STRATEGY',
    `unknown ${what} ${JSON.stringify(name)}: valid strategies are ${valid.join(', ')}`,
    400,
  );
}

export function assertStrategyName(name: unknown): StrategyName {
  if (!isStrategyName(name)) throw unknown('routing strategy', name, STRATEGY_NAMES);
  return name;
}

export interface StrategyDeps {
  /** Strategy geolocation uses within a region and for its fallback. Default round-robin. */
  geolocationFallback?: string;
  countries?: CountryLookup;
}

/** One instance of every strategy (each keeps its own rotation state in the table's pools). */
export function createStrategies(deps: StrategyDeps = {}): ReadonlyMap<StrategyName, RoutingStrategy> {
  const fallbackName = deps.geolocationFallback ?? 'round-robin';
  if (!(POOL_STRATEGY_NAMES as readonly string[]).includes(fallbackName))
    throw unknown('geolocation fallback', fallbackName, POOL_STRATEGY_NAMES);
  const pools: Record<PoolStrategyName, PoolStrategy> = {
    'round-robin': createRoundRobin(),
    priority: createPriority(),
    'least-loaded': createLeastLoaded(),
  };
  const fallback = pools[fallbackName as PoolStrategyName];
  return new Map<StrategyName, RoutingStrategy>([
    ['round-robin', pools['round-robin']],
    ['priority', pools.priority],
    ['least-loaded', pools['least-loaded']],
    ['geolocation', createGeolocation(deps.countries ?? new CountryLookup(), fallback)],
  ]);
}
