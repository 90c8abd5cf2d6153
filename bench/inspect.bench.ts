// The cost of inspection (issue 13): actor events/s with 1,000 sim masters, inspection off, on
// with no page connected, and on with one page reading the stream over HTTP. Each case runs in its
// own process. `npm run bench -- inspect --quick` runs a few seconds a case.
import type { InspectJob, InspectMode, InspectResult } from './inspect.child.ts';
import type { BenchReport } from './run.ts';
import { quick as QUICK } from './support/mode.ts';
import { runChild } from './support/processes.ts';

const MASTERS = 1_000;

function measure(job: InspectJob): Promise<InspectResult> {
  return runChild(new URL('./inspect.child.ts', import.meta.url), job, `inspect bench (${job.mode})`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

export default async function run(): Promise<BenchReport> {
  const seconds = QUICK ? 2 : 5;
  const warmupSeconds = QUICK ? 0.5 : 2;
  const rounds = QUICK ? 1 : 5;
  const modes: InspectMode[] = ['off', 'empty-observer', 'no-page', 'one-page'];
  const results = new Map<InspectMode, InspectResult[]>(modes.map((m) => [m, []]));
  // Rounds interleave the cases, so a neighbour's load spreads over all of them; medians are shown.
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes)
      results.get(mode)!.push(await measure({ mode, masters: MASTERS, seconds, warmupSeconds }));
  }
  const med = (mode: InspectMode, key: keyof Omit<InspectResult, 'mode'>) =>
    median(results.get(mode)!.map((r) => r[key]));
  // Each case against the "off" run of its own round (the same neighbours' load), then the median.
  const ratio = (mode: InspectMode, key: 'eventsPerSec' | 'eventsPerCpuSec') =>
    +median(results.get(mode)!.map((r, i) => r[key] / results.get('off')![i]![key])).toFixed(2);
  const label: Record<InspectMode, string> = {
    off: 'off (no inspect observer)',
    'empty-observer': 'an empty observer (XState alone)',
    'no-page': 'on, no page connected',
    'one-page': 'on, one page reading the stream',
  };
  return {
    title: `Inspection cost: actor events/s with ${MASTERS.toLocaleString('en')} sim masters`,
    rows: modes.map((mode) => ({
      inspection: label[mode],
      'events/s': med(mode, 'eventsPerSec'),
      'vs off': ratio(mode, 'eventsPerSec'),
      'events per CPU s': med(mode, 'eventsPerCpuSec'),
      'vs off (CPU)': ratio(mode, 'eventsPerCpuSec'),
      'events/s to the page': med(mode, 'pageEventsPerSec'),
      'KiB/s to the page': med(mode, 'pageKBPerSec'),
      'dropped (batch full)': med(mode, 'pageDropped'),
      'heap MB': med(mode, 'heapMB'),
    })),
    notes: [
      `${rounds} round(s) of ${seconds} s per case after ${warmupSeconds} s of warm-up, each case in its own process, cases interleaved; rates are medians, "vs off" the median of each round's ratio to that round's "off"; ${QUICK ? 'quick mode (--quick)' : 'full mode'}.`,
      '"events per CPU s": events over the CPU time of the measuring process (the page is another process), which other load on a shared machine disturbs less than wall time.',
      'Events: health.probe.succeeded sent to the masters round-robin (good, slow, good, good: a quarter change state), through the real system wiring (supervisor, balancer, dispatchers) on a simulated clock; the pump yields to the event loop every 1,000 events.',
      'The page: a separate process reading GET /inspector/stream over HTTP and parsing every message; "events/s to the page" counts the event-log entries it received (events to the supervisor and balancer too, so it can exceed the pumped rate; snapshots are coalesced per actor per 100 ms flush).',
    ],
  };
}
