// docs/architecture.md draws every machine's chart from its definition: this fails when a machine
// changed and the document was not regenerated (`npm run docs`), so the map cannot drift.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { chartsSection, DOC, withCharts } from '../../docs/charts.ts';
import { INSPECTED_MACHINES } from '../../inspector/machines.ts';

describe('docs/architecture.md', () => {
  const doc = readFileSync(DOC, 'utf8');

  it('holds the charts the machine definitions draw today (run `npm run docs` after changing a machine)', () => {
    expect(doc).toBe(withCharts(doc));
  });

  it('has a chart for every machine, naming states the machines really have', () => {
    const section = chartsSection();
    expect(INSPECTED_MACHINES.length).toBeGreaterThanOrEqual(5);
    for (const machine of INSPECTED_MACHINES) expect(section).toContain(`### \`${machine.id}\``);
    for (const state of ['healthy', 'degraded', 'failed', 'recovering', 'needsRepair', 'rolledBack'])
      expect(section).toContain(`"${state}`);
  });

  it('points nowhere outside the repository', () => {
    expect(doc).not.toMatch(/\.\.\/shared|\.\.\/\.library/);
  });
});
