// Routing tables for strategy tests: masters given by phone (or a short name) with defaults that keep
// rate limits out of the way unless a test sets them.
import type { RoutingStrategy } from '../../src/routing/strategy.ts';
import { type MasterRoute, RoutingTable, type RoutingTableOptions } from '../../src/routing/table.ts';

export type TestMaster = Partial<MasterRoute> & { phone: string; routable?: boolean };

export function routingTable(
  masters: TestMaster[],
  options: RoutingTableOptions = {},
  now = 0,
): RoutingTable {
  const table = new RoutingTable(options);
  table.time[0] = now;
  for (const { routable = true, ...m } of masters) {
    const i = table.add({ priority: 1, region: 'AE', weight: 1, ratePerMinute: 600_000, ...m });
    table.setRoutable(i, routable);
  }
  return table;
}

/** `n` decisions at `now`, each committed like the balancer does; '-' for none. */
export function decide(
  table: RoutingTable,
  strategy: RoutingStrategy,
  n: number,
  { to = '+971501234567', now = 0, release = false }: { to?: string; now?: number; release?: boolean } = {},
): string[] {
  const out: string[] = [];
  table.time[0] = now;
  for (let k = 0; k < n; k++) {
    const i = strategy.pick(table, to);
    if (i < 0) {
      out.push('-');
      continue;
    }
    table.commit(i);
    if (release) table.release(i, 'sent', undefined);
    out.push(table.phones[i]!);
  }
  return out;
}

export function tally(picks: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of picks) counts[p] = (counts[p] ?? 0) + 1;
  return counts;
}
