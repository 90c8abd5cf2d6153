// `npm run sim [-- --runs N]`: the whole-system simulation outside the test runner, for long runs
// and for replaying a failure exactly (SIM_SEED=... SIM_PATH=... npm run sim).
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import fc from 'fast-check';
import { describe } from './commands.ts';
import { Coverage } from './coverage.ts';
import { lengthHistogram, progress, type SimStats, simParameters, simProperty } from './property.ts';

const at = process.argv.indexOf('--runs');
if (at >= 0) process.env.SIM_RUNS = process.argv[at + 1];
const coverage = new Coverage();
const stats: SimStats = { runs: 0, steps: [], acked: 0, failedAfterMaxAttempts: 0, ms: 0 };
const started = performance.now();
// A run that stops making progress waits on something the simulation never delivers: say where.
let last = '';
const watchdog = setInterval(() => {
  const now = `${progress.run}/${progress.step}/${progress.what}`;
  if (now === last) {
    console.error(`no progress for 10 s: run ${progress.run}, step ${progress.step} (${progress.what})`);
    process.exit(3);
  }
  last = now;
  if (process.env.SIM_PROGRESS)
    console.error(`... ${stats.runs} runs, ${Math.round((performance.now() - started) / 1000)} s`);
}, 10_000);

const details = await fc.check(simProperty(coverage, stats), simParameters(1_000));
const failed = details.failed;
if (!details.failed && details.numRuns === 0) console.error('nothing ran:', details);
if (details.failed) {
  const [seed, masters, steps] = details.counterexample ?? [0, 0, []];
  console.error(`FAILED: ${(details.errorInstance as Error | undefined)?.message ?? 'see above'}`);
  console.error(`\nshrunk counterexample: seed ${seed}, ${masters} masters, ${steps.length} steps:`);
  for (const [i, c] of steps.entries()) console.error(`  ${i + 1}. ${describe(c)}`);
  console.error(`\nreplay: SIM_SEED=${details.seed} SIM_PATH=${details.counterexamplePath} npm run sim`);
  // The shrunk run as data: copied into test/model/sim/regressions/ (with a "why"), the suite
  // replays it as it is, whatever later changes to the command generators.
  writeFileSync(
    '.sim-counterexample.json',
    `${JSON.stringify({ why: '', seed, masters, steps }, null, 1)}\n`,
  );
  console.error('shrunk run written to .sim-counterexample.json');
}
clearInterval(watchdog);
const seconds = (performance.now() - started) / 1000;
const missing = coverage.missing();
const summary = [
  `${stats.runs} runs in ${seconds.toFixed(1)} s (${(stats.runs / seconds).toFixed(1)} runs/s), ${stats.acked} acknowledged messages, ${stats.failedAfterMaxAttempts} failed after maxAttempts${failed ? ', FAILED' : ''}`,
  lengthHistogram(stats.steps),
  coverage.table(),
  ...(missing.length > 0 ? [`never reached: ${missing.join(', ')}`] : []),
].join('\n');
console.log(`\n${summary}`);
// A run of the whole property (not a replay) is recorded, like a benchmark's figures.
if (!process.env.SIM_PATH) {
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/sim.md',
    `# npm run sim -- --runs ${stats.runs}\n\n${new Date().toISOString()}, Node ${process.version}, ${cpus().length} cores, seed ${details.seed}\n\n\`\`\`\n${summary}\n\`\`\`\n`,
  );
}
process.exitCode = failed || missing.length > 0 ? 1 : 0;
