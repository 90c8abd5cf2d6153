// Routing benchmarks: decision cost per strategy and fleet size (with an allocation check and a
// naive filter-then-pick baseline), balance (max/mean) with equal masters, and fleet p99 latency
// when one master is 10x slower, in a simulated-time model of the outbox -> balancer -> master loop.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '../src/routing/random.ts';
import { STRATEGY_NAMES } from '../src/routing/registry.ts';
import type { CostJob, CostResult } from './routing-cost.child.ts';
import { type FleetOptions, fleet, ManualClock, recipients } from './routing-support.ts';
import type { BenchReport } from './run.ts';

/** Runs one decision-cost case in a child process. */
function measure(job: CostJob): Promise<CostResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./routing-cost.child.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
    });
    child.once('message', (result) => resolve(result as CostResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`decision-cost child exited with ${code}`));
    });
    child.send(job);
  });
}

/** The obvious implementation: filter the eligible masters into a new array, then rotate over it. */
function naiveCost(masters: number, decisions: number): number {
  const fleetRows = Array.from({ length: masters }, (_, k) => ({
    phone: `+9715${k}`,
    routable: true,
    tokens: 1e9,
    inFlight: 0,
  }));
  let cursor = 0;
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let k = 0; k < decisions; k++) {
    const eligible = fleetRows.filter((m) => m.routable && m.tokens >= 1);
    const chosen = eligible[cursor++ % eligible.length]!;
    chosen.tokens -= 1;
    sink += chosen.phone.length;
  }
  const elapsed = Number(process.hrtime.bigint() - started);
  if (sink < 0) console.log(sink);
  return elapsed / decisions;
}

async function costReport(): Promise<BenchReport> {
  const rows: BenchReport['rows'] = [];
  const DECISIONS = 1_000_000;
  for (const masters of [10, 100, 1_000]) {
    const naive = naiveCost(masters, masters === 1_000 ? 50_000 : 200_000);
    const cases: [string, FleetOptions][] = [
      ...STRATEGY_NAMES.map((s): [string, FleetOptions] => [
        s,
        { strategy: s, masters, ...(s === 'priority' ? { priorityGroups: 3 } : {}) },
      ]),
      ['round-robin (weights 1-4)', { strategy: 'round-robin', masters, weighted: true }],
    ];
    for (const [label, options] of cases) {
      const off = await measure({ options, decisions: DECISIONS, recipients: 1_000, wallClock: false });
      const on = await measure({
        options: { ...options, affinity: true },
        decisions: DECISIONS,
        recipients: 10_000,
        wallClock: false,
      });
      rows.push({
        strategy: label,
        masters,
        'ns/decision': Math.round(off.ns),
        'ns/decision, affinity on (10k recipients)': Math.round(on.ns),
        'x faster than naive filter+pick': Math.round((naive / off.ns) * 10) / 10,
        'bytes allocated/decision': off.bytesPerDecision.toFixed(3),
        'bytes allocated/decision, affinity on': on.bytesPerDecision.toFixed(3),
      });
    }
  }
  const wall = await measure({
    options: { strategy: 'round-robin', masters: 1_000 },
    decisions: DECISIONS,
    recipients: 1_000,
    wallClock: true,
  });
  return {
    title: 'Routing decision cost (select + release, 1M decisions each)',
    rows,
    notes: [
      'Decision = select(to) + release(phone); clock moves 10 us per decision so every bucket refill is computed; rate limits set out of the way.',
      'priority: 3 priority groups; geolocation: masters spread over 5 regions, recipients over the same 5 countries (+1 numbers parsed once, then cached).',
      '"bytes allocated/decision": everything V8 allocated during a second run of the 1M decisions (sampling heap profiler, 64-byte interval, garbage included) / 1M.',
      '"naive": Array.filter of the eligible masters then rotation, measured in the same process.',
      `With the wall clock (Date.now) instead of the simulated one, round-robin at 1,000 masters: ${Math.round(wall.ns)} ns/decision, ${wall.bytesPerDecision.toFixed(2)} bytes allocated/decision (V8 boxes each Date.now() result, a double).`,
    ],
  };
}

// --- simulated fleet: Poisson arrivals -> outbox queue -> select -> master latency -> release ---

class TimerHeap {
  at: number[] = [];
  id: number[] = [];
  push(at: number, id: number): void {
    const a = this.at;
    const d = this.id;
    let i = a.length;
    a.push(at);
    d.push(id);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= at) break;
      a[i] = a[p]!;
      d[i] = d[p]!;
      i = p;
    }
    a[i] = at;
    d[i] = id;
  }
  get size(): number {
    return this.at.length;
  }
  peek(): number {
    return this.at[0]!;
  }
  pop(): number {
    const a = this.at;
    const d = this.id;
    const top = d[0]!;
    const lastAt = a.pop()!;
    const lastId = d.pop()!;
    const n = a.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && a[r]! < a[l]! ? r : l;
        if (a[c]! >= lastAt) break;
        a[i] = a[c]!;
        d[i] = d[c]!;
        i = c;
      }
      a[i] = lastAt;
      d[i] = lastId;
    }
    return top;
  }
}

interface SimResult {
  p50: number;
  p99: number;
  maxOverMean: number;
  slowShare: number;
}

function simulate(options: {
  strategy: string;
  masters: number;
  slow: boolean;
  messages: number;
  ratePerSec: number;
  maxInFlight?: number;
  affinity?: boolean;
}): SimResult {
  const BASE_MS = 100;
  const clock = new ManualClock();
  clock.t = 0;
  const { balancer, phones, stop } = fleet(
    {
      strategy: options.strategy,
      masters: options.masters,
      affinity: options.affinity ?? false,
      ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
    },
    clock,
  );
  const index = new Map(phones.map((p, k) => [p, k]));
  const rand = seededRandom(11);
  const to = recipients(5_000);
  const arrival = new Float64Array(options.messages);
  const masterOf = new Int32Array(options.messages);
  const latency = new Float64Array(options.messages);
  const sentAt = new Float64Array(options.messages);
  const counts = new Float64Array(options.masters);
  const done = new TimerHeap();
  const queue: number[] = [];
  let head = 0;
  let t = 0;
  for (let m = 0; m < options.messages; m++) {
    t += (-Math.log(1 - rand()) * 1000) / options.ratePerSec;
    arrival[m] = t;
  }
  let next = 0;
  const dispatch = () => {
    while (head < queue.length) {
      const m = queue[head]!;
      const phone = balancer.select(to[m % to.length]!);
      if (phone === null) return; // the outbox keeps it queued; retried at the next completion
      head++;
      const k = index.get(phone)!;
      counts[k]!++;
      masterOf[m] = k;
      sentAt[m] = clock.t;
      const base = options.slow && k === 0 ? BASE_MS * 10 : BASE_MS;
      done.push(clock.t + base * (0.8 + 0.4 * rand()), m);
    }
  };
  while (next < options.messages || done.size > 0) {
    if (next < options.messages && (done.size === 0 || arrival[next]! <= done.peek())) {
      clock.t = arrival[next]!;
      queue.push(next++);
    } else {
      clock.t = done.peek();
      const m = done.pop();
      latency[m] = clock.t - arrival[m]!;
      const k = masterOf[m]!;
      balancer.release(phones[k]!, 'sent', clock.t - sentAt[m]!);
    }
    dispatch();
  }
  stop();
  const sorted = Float64Array.from(latency).sort();
  const mean = options.messages / options.masters;
  return {
    p50: sorted[Math.floor(sorted.length * 0.5)]!,
    p99: sorted[Math.floor(sorted.length * 0.99)]!,
    maxOverMean: Math.max(...counts) / mean,
    slowShare: counts[0]! / options.messages,
  };
}

function balanceReport(): BenchReport {
  const rows: BenchReport['rows'] = [];
  for (const masters of [10, 100]) {
    for (const strategy of STRATEGY_NAMES) {
      const r = simulate({ strategy, masters, slow: false, messages: 100_000, ratePerSec: masters * 5 });
      const a = simulate({
        strategy,
        masters,
        slow: false,
        messages: 100_000,
        ratePerSec: masters * 5,
        affinity: true,
      });
      rows.push({
        strategy,
        masters,
        'max/mean': r.maxOverMean.toFixed(3),
        'max/mean, affinity on (5k recipients)': a.maxOverMean.toFixed(3),
      });
    }
  }
  return {
    title: 'Balance with equal masters: max/mean assignments over 100k decisions',
    rows,
    notes: [
      'Equal masters (same weight, priority, rate); 100 ms sends; Poisson arrivals at 5 msg/s per master; releases feed in-flight and latency back.',
      'geolocation: masters in 5 regions, recipients spread evenly over those 5 countries.',
    ],
  };
}

function slowReport(): BenchReport {
  const rows: BenchReport['rows'] = [];
  const masters = 10;
  for (const maxInFlight of [undefined, 4]) {
    for (const strategy of STRATEGY_NAMES) {
      const common = {
        strategy,
        masters,
        messages: 100_000,
        ratePerSec: 200,
        ...(maxInFlight ? { maxInFlight } : {}),
      };
      const healthy = simulate({ ...common, slow: false });
      const slow = simulate({ ...common, slow: true });
      rows.push({
        strategy,
        maxInFlight: maxInFlight ?? 'none',
        'p99 all healthy (ms)': Math.round(healthy.p99),
        'p99 one 10x slower (ms)': Math.round(slow.p99),
        'p99 ratio': (slow.p99 / healthy.p99).toFixed(2),
        'p50 ratio': (slow.p50 / healthy.p50).toFixed(2),
        'slow master share': `${(slow.slowShare * 100).toFixed(2)}%`,
      });
    }
  }
  return {
    title: 'Fleet p99 latency with one master 10x slower, relative to an all-healthy fleet',
    rows,
    notes: [
      '10 masters, sends take 100 ms (+-20%), the slow one 1000 ms; 100k messages, Poisson arrivals at 200 msg/s; latency = queue wait + send.',
      'maxInFlight 4 is dispatch.maxInFlight: a master at the limit is skipped and a message nobody can take waits in the queue.',
      'priority: all masters of equal priority here (ties rotate), so it behaves like round-robin; geolocation falls back to round-robin.',
    ],
  };
}

export default async function routingBench(): Promise<BenchReport[]> {
  return [await costReport(), balanceReport(), slowReport()];
}
