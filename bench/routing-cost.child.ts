// One decision-cost measurement in a fresh process (spawned by routing.bench.ts), so each case
// gets JIT feedback from its own balancer only, as a service running one balancer does.
import { Session } from 'node:inspector/promises';
import { realClock } from '../actors/clock.ts';
import { type FleetOptions, fleet, ManualClock, recipients } from './routing-support.ts';

export interface CostJob {
  options: FleetOptions;
  decisions: number;
  recipients: number;
  wallClock: boolean;
}

export interface CostResult {
  ns: number;
  bytesPerDecision: number;
}

type ProfileNode = { selfSize: number; children: ProfileNode[] };

function totalSize(node: ProfileNode): number {
  let sum = node.selfSize;
  for (const child of node.children) sum += totalSize(child);
  return sum;
}

/** Bytes allocated while `work` runs, garbage included (V8's sampling heap profiler, 64-byte interval). */
async function allocated(work: () => void): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 64,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    } as unknown as Parameters<Session['post']>[1]);
    work();
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as {
      profile: { head: ProfileNode };
    };
    return totalSize(profile.head);
  } finally {
    session.disconnect();
  }
}

/** select + release per decision, time moving 10 us per decision (buckets refill every call). */
async function decisionCost(
  options: FleetOptions,
  decisions: number,
  to: string[],
  wallClock = false,
): Promise<CostResult> {
  const clock = new ManualClock();
  const cell = clock.cell;
  const { balancer, stop } = fleet(options, wallClock ? realClock : clock);
  const n = to.length;
  const run = (count: number) => {
    for (let k = 0; k < count; k++) {
      cell[0]! += 0.01;
      const phone = balancer.select(to[k % n]!);
      if (phone !== null) balancer.release(phone, 'sent', 100);
    }
  };
  run(Math.min(decisions, 200_000)); // warm the JIT and the affinity map
  const started = process.hrtime.bigint();
  run(decisions);
  const elapsed = Number(process.hrtime.bigint() - started);
  const bytes = await allocated(() => run(decisions));
  stop();
  return { ns: elapsed / decisions, bytesPerDecision: bytes / decisions };
}

process.once('message', async (job: CostJob) => {
  const result = await decisionCost(job.options, job.decisions, recipients(job.recipients), job.wallClock);
  process.send?.(result, () => process.exit(0));
});
