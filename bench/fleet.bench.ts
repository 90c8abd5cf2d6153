// 1,000 sim masters in one process (issue 15): the real service (`switchboard serve`) started
// with a config of 1,000 simulated masters on a temp data dir, measured from outside: start-up time,
// resident memory after start and after an idle window, CPU while idle; then actor events/s with
// inspection off, measured in process by the inspection benchmark's child (same definition of an event).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InspectJob, InspectResult } from './inspect.child.ts';

import type { BenchReport } from './run.ts';
import { quick as QUICK } from './support/mode.ts';
import { rssMb, runChild, startServer } from './support/processes.ts';
import { median, spread } from './support/stats.ts';

const MASTERS = 1_000;
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface FleetRun {
  /** spawn -> "listening" line. */
  listenMs: number;
  /** spawn -> GET /readyz reports every master routable. */
  allRoutableMs: number;
  rssAfterStartMb: number;
  rssAfterIdleMb: number;
  /** Highest RSS sampled (every 250 ms) from spawn to the end of the idle window. */
  rssPeakMb: number;
  /** CPU time over wall time in the idle window, in % of one core. */
  idleCpuPercent: number;
  heapUsedMb: number;
}

/** utime + stime of a process in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

export function fleetConfig(dataDir: string, masters = MASTERS) {
  return {
    masters: Array.from({ length: masters }, (_, i) => ({
      phone: `+97150${1_000_000 + i}`,
      priority: i % 10,
      region: 'AE',
      ratePerMinute: 60,
      transport: 'sim',
    })),
    dataDir,
    http: { port: 0 },
  };
}

async function serveOnce(idleSeconds: number, nodeFlags: string[]): Promise<FleetRun> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-fleet-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(fleetConfig(join(dir, 'data'))));
  const spawned = performance.now();
  let peak = 0;
  let pid = 0;
  const sampler = setInterval(() => {
    if (pid) peak = Math.max(peak, rssMb(pid));
  }, 250);
  const server = await startServer([...nodeFlags, 'src/cli.ts', 'serve', '--config', configFile]).catch(
    (err) => {
      clearInterval(sampler);
      throw err;
    },
  );
  pid = server.child.pid!;
  try {
    let allRoutableMs = Number.NaN;
    for (let i = 0; i < 1_200; i++) {
      const r = (await fetch(`${server.url}/readyz`).then((res) => res.json())) as { routable?: number };
      if (r.routable === MASTERS) {
        allRoutableMs = performance.now() - spawned;
        break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    // Let start-up garbage settle as a running service would, then read memory "after start".
    await new Promise((res) => setTimeout(res, 1_000));
    const rssAfterStartMb = rssMb(pid);
    peak = Math.max(peak, rssAfterStartMb);
    const cpu0 = cpuSeconds(pid);
    const t0 = performance.now();
    await new Promise((res) => setTimeout(res, idleSeconds * 1_000));
    const idleCpuPercent = ((cpuSeconds(pid) - cpu0) / ((performance.now() - t0) / 1_000)) * 100;
    const rssAfterIdleMb = rssMb(pid);
    peak = Math.max(peak, rssAfterIdleMb);
    const metrics = await fetch(`${server.url}/metrics`).then((res) => (res.ok ? res.text() : ''));
    const heap = /nodejs_heap_size_used_bytes (\d+(?:\.\d+)?(?:e\+\d+)?)/.exec(metrics)?.[1];
    return {
      listenMs: Math.round(server.startMs),
      allRoutableMs: Math.round(allRoutableMs),
      rssAfterStartMb,
      rssAfterIdleMb,
      rssPeakMb: peak,
      idleCpuPercent: Math.round(idleCpuPercent * 10) / 10,
      heapUsedMb: heap ? Math.round(Number(heap) / 2 ** 20) : Number.NaN,
    };
  } finally {
    clearInterval(sampler);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function events(job: InspectJob): Promise<InspectResult> {
  return runChild(new URL('./inspect.child.ts', import.meta.url), job, 'events');
}

/** Node as npm start runs it, and with a smaller young generation (a flag an operator may set). */
const VARIANTS: { label: string; flags: string[] }[] = [
  { label: 'npm start (default V8 flags)', flags: [] },
  { label: 'node --max-semi-space-size=2', flags: ['--max-semi-space-size=2'] },
];

export default async function fleetBench(): Promise<BenchReport[]> {
  const rounds = QUICK ? 1 : 3;
  const idleSeconds = QUICK ? 5 : 60;
  const variants = QUICK ? VARIANTS.slice(0, 1) : VARIANTS;
  const runs = variants.map((): FleetRun[] => []);
  // Rounds interleave the variants, so a neighbour's load spreads over both.
  for (let round = 0; round < rounds; round++)
    for (const [i, v] of variants.entries()) runs[i]!.push(await serveOnce(idleSeconds, v.flags));
  const eventRounds = QUICK ? 1 : 5;
  const rates: InspectResult[] = [];
  for (let round = 0; round < eventRounds; round++)
    rates.push(
      await events({ mode: 'off', masters: MASTERS, seconds: QUICK ? 2 : 5, warmupSeconds: QUICK ? 0.5 : 2 }),
    );
  const yes = (ok: boolean) => (ok ? 'yes' : 'no');
  const row = (figure: string, values: number[], target: string, met: (m: number) => string, digits = 0) => ({
    figure,
    median: Number(median(values).toFixed(digits)),
    'spread (min-max)': spread(values, digits),
    runs: values.length,
    target,
    met: met(median(values)),
  });
  const none = () => '-';
  const rows: BenchReport['rows'] = [];
  for (const [i, v] of variants.entries()) {
    const col = (key: keyof FleetRun) => runs[i]!.map((r) => r[key]);
    const tag = variants.length > 1 ? ` [${v.label}]` : '';
    rows.push(
      row(`start-up: spawn -> listening (ms)${tag}`, col('listenMs'), '-', none),
      row(`start-up: spawn -> all masters routable (ms)${tag}`, col('allRoutableMs'), '-', none),
      row(`RSS after start (MB)${tag}`, col('rssAfterStartMb'), '<= 150', (m) => yes(m <= 150)),
      row(`RSS after ${idleSeconds} s idle (MB)${tag}`, col('rssAfterIdleMb'), '<= 150', (m) =>
        yes(m <= 150),
      ),
      row(`RSS peak, spawn to end of idle (MB)${tag}`, col('rssPeakMb'), '-', none),
      row(`CPU while idle (% of one core)${tag}`, col('idleCpuPercent'), '-', none, 1),
      row(`V8 heap used after idle (MB)${tag}`, col('heapUsedMb'), '-', none),
    );
  }
  rows.push(
    row(
      'actor events/s, inspection off',
      rates.map((r) => r.eventsPerSec),
      '>= 100,000',
      (m) => yes(m >= 100_000),
    ),
    row(
      'actor events per CPU second, inspection off',
      rates.map((r) => r.eventsPerCpuSec),
      '-',
      none,
    ),
  );
  return [
    {
      title: `${MASTERS.toLocaleString('en')} sim masters in one process (switchboard serve, measured from outside)`,
      rows,
      notes: [
        `${rounds} start(s) per variant of \`switchboard serve\` (node --import tsx src/cli.ts, as npm start runs it; LOG_LEVEL=info) with ${MASTERS} sim masters (default health settings: a probe every 5 s each) on a temp data dir, variants interleaved, ${QUICK ? 'quick mode' : 'full mode'}. RSS from /proc/<pid>/status; "after start" is read 1 s after GET /readyz counts every master routable; peak sampled every 250 ms; idle CPU is utime+stime from /proc/<pid>/stat over the ${idleSeconds} s idle window (probes keep running: 200 a second).`,
        `Events/s: ${eventRounds} run(s) of bench/inspect.child.ts with inspection off (${QUICK ? '2' : '5'} s each after warm-up), one process each: health.probe.succeeded sent to the ${MASTERS} masters round-robin through the real system wiring on a simulated clock, a quarter of them changing state (healthy <-> degraded); the pump yields to the event loop every 1,000 events. An event is one such send, counted once (what it causes in the supervisor, balancer and monitor is not counted again).`,
        `Peak RSS over all starts: ${Math.max(...runs.flat().map((r) => r.rssPeakMb))} MB.`,
      ],
    },
  ];
}
