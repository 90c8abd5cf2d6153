// Every bug the whole-system simulation found, replayed as the shrunk run that showed it
// (test/model/sim/regressions/*.json: the seed, the fleet size and the steps themselves, not a
// fast-check seed, so a change to the generators cannot turn a regression into another run).
// `npm run sim` writes a new failure's shrunk run to .sim-counterexample.json.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Command } from './sim/commands.ts';
import { Coverage } from './sim/coverage.ts';
import { runOne, type SimStats } from './sim/property.ts';

interface Regression {
  why: string;
  seed: number;
  masters: number;
  steps: Command[];
}

const dir = join(import.meta.dirname, 'sim', 'regressions');
const cases = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({ file: f, ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as Regression) }));

describe('simulation regressions (runs that once broke an invariant)', () => {
  for (const c of cases) {
    it(`${c.file}: ${c.why}`, async () => {
      const stats: SimStats = { runs: 0, steps: [], acked: 0, failedAfterMaxAttempts: 0, ms: 0 };
      // runOne throws a Violation naming the step and the invariant when the run breaks one
      await expect(runOne(c.seed, c.masters, c.steps, new Coverage(), stats)).resolves.toBeUndefined();
      expect(stats.runs).toBe(1);
    }, 120_000);
  }
});
