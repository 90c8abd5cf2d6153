// One decision-cost measurement in a fresh process (spawned by routing.bench.ts), so each case
// gets JIT feedback from its own balancer only, as a service running one balancer does.
import { Session } from 'node:inspector/promises';
import { realClock } from '../actors/clock.ts';
import { type FleetOptions, fleet, ManualClock, recipients } from './routing-support.ts';

export interface CostJob {
  options: FleetOptions;
  /** Decisions per strategy batch (the seed baseline's batches are sized to take about as long). */
  batch: number;
  /** Batches of each kind per round. */
  batches: number;
  rounds: number;
  recipients: number;
  wallClock: boolean;
  /** Also measure bytes allocated per decision (another run of `batch x batches` decisions). */
  allocation: boolean;
}

export interface CostResult {
  /** ns/decision of every strategy batch, per round. */
  strategy: number[][];
  /** ns/decision of every seed-baseline batch, per round. */
  seed: number[][];
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

interface SeedRow {
  phone: string;
  routable: boolean;
  priority: number;
  tokens: number;
  inFlight: number;
  lastUsedAt: number;
}

/**
 * The seed's approach, kept as the baseline: for every message, filter the masters that can take it
 * into a new array, sort it (priority, then fewest in flight, then least recently used) and take the
 * first. Same fleet as the strategy (priorities, rate limits out of the way), same clock steps.
 */
function seedRouter(options: FleetOptions) {
  const rows: SeedRow[] = Array.from({ length: options.masters }, (_, k) => ({
    phone: `+9715${String(k).padStart(8, '0')}`,
    routable: true,
    priority: options.priorityGroups ? k % options.priorityGroups : 1,
    tokens: options.ratePerMinute ?? 1e9,
    inFlight: 0,
    lastUsedAt: 0,
  }));
  const byPhone = new Map(rows.map((r) => [r.phone, r]));
  return {
    select(now: number): string | null {
      const eligible = rows.filter((m) => m.routable && m.tokens >= 1);
      eligible.sort(
        (a, b) => a.priority - b.priority || a.inFlight - b.inFlight || a.lastUsedAt - b.lastUsedAt,
      );
      const chosen = eligible[0];
      if (!chosen) return null;
      chosen.tokens -= 1;
      chosen.inFlight++;
      chosen.lastUsedAt = now;
      return chosen.phone;
    },
    release(phone: string): void {
      const row = byPhone.get(phone);
      if (row) row.inFlight--;
    },
  };
}

/**
 * select + release per decision, time moving 10 us per decision (buckets refill every call); the
 * strategy and the seed baseline alternate in batches within each round, the order flipping every
 * round, so both see the same machine load.
 */
async function decisionCost(job: CostJob, to: string[]): Promise<CostResult> {
  const clock = new ManualClock();
  const cell = clock.cell;
  const { balancer, stop } = fleet(job.options, job.wallClock ? realClock : clock);
  const seed = seedRouter(job.options);
  const n = to.length;
  let k = 0;
  const runStrategy = (count: number) => {
    for (let i = 0; i < count; i++, k++) {
      cell[0]! += 0.01;
      const phone = balancer.select(to[k % n]!);
      if (phone !== null) balancer.release(phone, 'sent', 100);
    }
  };
  let sink = 0;
  const runSeed = (count: number) => {
    for (let i = 0; i < count; i++) {
      cell[0]! += 0.01;
      const phone = seed.select(cell[0]!);
      if (phone !== null) {
        sink += phone.length;
        seed.release(phone);
      }
    }
  };
  // The seed's batch: about as many element visits as a strategy batch of `batch` decisions.
  const seedBatch = Math.max(10, Math.round((job.batch * 10) / job.options.masters));
  const timed = (run: (count: number) => void, count: number) => {
    const started = process.hrtime.bigint();
    run(count);
    return Number(process.hrtime.bigint() - started) / count;
  };
  runStrategy(Math.min(200_000, job.batch * job.batches)); // warm the JIT and the affinity map
  runSeed(seedBatch * 2);
  const strategy: number[][] = [];
  const seedNs: number[][] = [];
  for (let r = 0; r < job.rounds; r++) {
    const s: number[] = [];
    const b: number[] = [];
    const order = r % 2 === 0 ? [0, 1] : [1, 0];
    for (const which of order) {
      for (let i = 0; i < job.batches; i++) {
        if (which === 0) s.push(timed(runStrategy, job.batch));
        else b.push(timed(runSeed, seedBatch));
      }
    }
    strategy.push(s);
    seedNs.push(b);
  }
  // Enough decisions that the profiler's own allocations are lost in the figure.
  const total = Math.max(1_000_000, job.batch * job.batches);
  const bytes = job.allocation ? await allocated(() => runStrategy(total)) : 0;
  stop();
  if (sink < 0) console.log(sink);
  return { strategy, seed: seedNs, bytesPerDecision: bytes / total };
}

process.once('message', async (job: CostJob) => {
  const result = await decisionCost(job, recipients(job.recipients));
  process.send?.(result, () => process.exit(0));
});
