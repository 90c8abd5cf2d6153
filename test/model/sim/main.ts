// `npm run sim [-- --runs N]`: the whole-system simulation outside the test runner, for long runs
// and for replaying a failure exactly (SIM_SEED=... SIM_PATH=... npm run sim).
import fc from 'fast-check';
import { describe } from './commands.ts';
import { Coverage } from './coverage.ts';
import { lengthHistogram, type SimStats, simParameters, simProperty } from './property.ts';

const at = process.argv.indexOf('--runs');
if (at >= 0) process.env.SIM_RUNS = process.argv[at + 1];
const coverage = new Coverage();
const stats: SimStats = { runs: 0, steps: [], acked: 0, failedAfterMaxAttempts: 0, ms: 0 };
const started = performance.now();
const details = await fc.check(simProperty(coverage, stats), simParameters(1_000));
const failed = details.failed;
if (details.failed) {
  const [seed, masters, steps] = details.counterexample ?? [0, 0, []];
  console.error(`FAILED: ${(details.errorInstance as Error | undefined)?.message ?? 'see above'}`);
  console.error(`\nshrunk counterexample: seed ${seed}, ${masters} masters, ${steps.length} steps:`);
  for (const [i, c] of steps.entries()) console.error(`  ${i + 1}. ${describe(c)}`);
  console.error(`\nreplay: SIM_SEED=${details.seed} SIM_PATH=${details.counterexamplePath} npm run sim`);
}
const seconds = (performance.now() - started) / 1000;
console.log(
  `\n${stats.runs} runs in ${seconds.toFixed(1)} s (${(stats.runs / seconds).toFixed(1)} runs/s), ${stats.acked} acknowledged messages`,
);
console.log(lengthHistogram(stats.steps));
console.log(coverage.table());
const missing = coverage.missing();
if (missing.length > 0) console.log(`never reached: ${missing.join(', ')}`);
process.exit(failed || missing.length > 0 ? 1 : 0);
