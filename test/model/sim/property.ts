// The whole-system property, shared by the test suite (test/model/system.sim.test.ts) and the long
// runner (`npm run sim`): for any seed, fleet size and sequence of 50 to 500 steps, the invariants
// hold after every step and the total-queue check passes at the end.
import fc from 'fast-check';
import { type Command, commandArb, describe, run } from './commands.ts';
import type { Coverage } from './coverage.ts';
import { Simulation } from './simulation.ts';

export interface SimStats {
  runs: number;
  steps: number[];
  acked: number;
  failedAfterMaxAttempts: number;
  ms: number;
}

/** What the running simulation is doing (for a watchdog outside it). */
export const progress = { run: 0, step: 0, what: '', failed: false };

export function simProperty(coverage: Coverage, stats: SimStats) {
  return fc.asyncProperty(
    fc.integer({ min: 1, max: 2 ** 31 - 1 }),
    fc.integer({ min: 3, max: 5 }),
    // size 'max': without it fast-check caps an array near 10 items whatever maxLength says
    fc.array(commandArb, { minLength: 50, maxLength: 500, size: 'max' }),
    (seed, masters, commands: Command[]) => runOne(seed, masters, commands, coverage, stats),
  );
}

/** fast-check parameters from the environment: SIM_RUNS, and SIM_SEED + SIM_PATH to replay a failure. */
export function simParameters(defaultRuns: number): fc.Parameters<[number, number, Command[]]> {
  return {
    numRuns: Number(process.env.SIM_RUNS ?? defaultRuns),
    ...(process.env.SIM_SEED ? { seed: Number(process.env.SIM_SEED) } : {}),
    ...(process.env.SIM_PATH ? { path: process.env.SIM_PATH, endOnFailure: true } : {}),
    // no interruptAfterTimeLimit: a CI run must do every run it claims
  };
}

/** Step lengths in buckets of 50, for the report. */
export function lengthHistogram(steps: readonly number[]): string {
  const buckets = new Map<number, number>();
  for (const n of steps)
    buckets.set(Math.floor(n / 50) * 50, (buckets.get(Math.floor(n / 50) * 50) ?? 0) + 1);
  return [...buckets.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(
      ([b, c]) =>
        `${String(b).padStart(3)}-${String(b + 49).padStart(3)} steps: ${String(c).padStart(5)} runs`,
    )
    .join('\n');
}

/** One simulated run: boot, every step with the invariants checked after it, the final check. */
export async function runOne(
  seed: number,
  masters: number,
  commands: readonly Command[],
  coverage: Coverage,
  stats: SimStats,
): Promise<void> {
  const started = performance.now();
  const sim = new Simulation(seed, masters, coverage);
  await sim.boot();
  let step = 0;
  try {
    progress.run++;
    for (const cmd of commands) {
      step++;
      progress.step = step;
      progress.what = describe(cmd);
      await run(sim, cmd);
      await sim.checkInvariants();
    }
    const end = await sim.finish();
    stats.acked += end.acked;
    stats.failedAfterMaxAttempts += end.failed;
  } catch (err) {
    const trail = commands
      .slice(Math.max(0, step - 12), step)
      .map((c, i) => `  ${step - Math.min(step, 12) + i + 1}. ${describe(c)}`);
    (err as Error).message =
      `seed ${seed}, ${masters} masters, step ${step}/${commands.length}: ${(err as Error).message}\n last steps:\n${trail.join('\n')}`;
    // The first failure, before fast-check spends minutes shrinking it (SIM_PROGRESS=1).
    if (process.env.SIM_PROGRESS && !progress.failed) {
      progress.failed = true;
      console.error(`first failure (shrinking now): ${(err as Error).message}`);
    }
    throw err;
  } finally {
    await sim.close();
    stats.runs++;
    stats.steps.push(commands.length);
    stats.ms += performance.now() - started;
  }
}
