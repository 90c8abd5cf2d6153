import fc from 'fast-check';
import { commandArb, describe, run } from './commands.ts';
import { Coverage } from './coverage.ts';
import { Simulation } from './simulation.ts';
const cmds = fc.sample(fc.array(commandArb, { minLength: 50, maxLength: 500, size: 'max' }), { numRuns: 1, seed: 7 })[0]!;
const sim = new Simulation(42, 3, new Coverage());
await sim.boot();
let i = 0;
for (const c of cmds) {
  i++;
  const t0 = performance.now();
  const timer = setTimeout(() => console.log('STUCK at', i, describe(c)), 5000);
  await run(sim, c);
  await sim.checkInvariants();
  clearTimeout(timer);
  const ms = performance.now() - t0;
  if (ms > 50) console.log(i, describe(c), ms.toFixed(0) + 'ms');
}
console.log('steps', cmds.length);
console.log(await sim.finish());
