// The operator files speak of metrics the service has: every switchboard_ name in the alerting rules
// and the Grafana dashboard is one the registry exposes (promtool checks and tests the rules in CI).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../../src/monitor/metrics.ts';
import { parsePrometheusText } from '../support/prom-text.ts';

const root = join(import.meta.dirname, '..', '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

async function exposed(): Promise<Set<string>> {
  const metrics = new Metrics({
    queueLength: () => 0,
    balanceQuality: () => 100,
    healthScore: () => 100,
    storeAvailable: () => true,
    alertsOpen: () => ({ critical: 0, warning: 0, info: 0 }),
    routable: () => 1,
  });
  metrics.addMaster('+971501234567');
  const names = new Set<string>();
  for (const f of parsePrometheusText((await metrics.scrape()).body).values()) {
    names.add(f.name);
    if (f.type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${f.name}${s}`);
  }
  return names;
}

const referenced = (text: string) => new Set(text.match(/switchboard_[a-z_]+/g) ?? []);

describe('operator files', () => {
  it('ops/prometheus/alerts.yml uses only metrics the service exposes', async () => {
    const names = await exposed();
    const used = referenced(read('ops/prometheus/alerts.yml'));
    expect(used.size).toBeGreaterThanOrEqual(5);
    for (const name of used) expect(names, name).toContain(name);
  });

  it('ops/grafana/switchboard.json is a dashboard whose every query uses metrics the service exposes', async () => {
    const names = await exposed();
    const dashboard = JSON.parse(read('ops/grafana/switchboard.json')) as {
      uid: string;
      panels: { id: number; title: string; targets: { expr: string }[] }[];
    };
    expect(dashboard.uid).toBe('switchboard');
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const used = new Set<string>();
    for (const p of dashboard.panels) {
      expect(p.targets.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets) for (const n of referenced(t.expr)) used.add(n);
    }
    for (const name of used) expect(names, name).toContain(name);
    // every family of ours is on the dashboard
    const families = [...names].filter(
      (n) => !/_(bucket|sum|count)$/.test(n) || !names.has(n.replace(/_(bucket|sum|count)$/, '')),
    );
    for (const f of families) {
      const shown = [...used].some((u) => u === f || u.startsWith(`${f}_`));
      expect(shown, `${f} is not on the dashboard`).toBe(true);
    }
  });
});
