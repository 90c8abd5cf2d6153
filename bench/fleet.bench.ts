// 1,000 sim masters in one process (issue 15): the real service (`switchboard serve`) started
// with a config of 1,000 simulated masters on a temp data dir, measured from outside: start-up time,
// resident memory after start and after an idle window, CPU while idle; then actor events/s with
// inspection off, measured in process by the inspection benchmark's child (same definition of an event).
import { fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InspectJob, InspectResult } from './inspect.child.ts';
import type { BenchReport } from './run.ts';
import { quick as QUICK } from './support/mode.ts';
import { rssMb, startServer } from './support/processes.ts';

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

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function spread(values: readonly number[], digits = 0): string {
  if (values.length < 2) return '-';
  return `${Math.min(...values).toFixed(digits)}-${Math.max(...values).toFixed(digits)}`;
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

async function serveOnce(idleSeconds: number): Promise<FleetRun> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-fleet-'));
  const configFile = join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(fleetConfig(join(dir, 'data'))));
  const spawned = performance.now();
  let peak = 0;
  let pid = 0;
  const sampler = setInterval(() => {
    if (pid) peak = Math.max(peak, rssMb(pid));
  }, 250);
  const server = await startServer(['src/cli.ts', 'serve', '--config', configFile]).catch((err) => {
    clearInterval(sampler);
    throw err;
  });
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
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(new URL('./inspect.child.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
    });
    child.once('message', (result) => resolve(result as InspectResult));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) reject(new Error(`events child exited with ${code}`));
    });
    child.send(job);
  });
}

export default async function fleetBench(): Promise<BenchReport[]> {
  const rounds = QUICK ? 1 : 3;
  const idleSeconds = QUICK ? 5 : 60;
  const runs: FleetRun[] = [];
  for (let round = 0; round < rounds; round++) runs.push(await serveOnce(idleSeconds));
  const eventRounds = QUICK ? 1 : 5;
  const rates: InspectResult[] = [];
  for (let round = 0; round < eventRounds; round++)
    rates.push(
      await events({ mode: 'off', masters: MASTERS, seconds: QUICK ? 2 : 5, warmupSeconds: QUICK ? 0.5 : 2 }),
    );
  const col = (key: keyof FleetRun) => runs.map((r) => r[key]);
  const row = (figure: string, values: number[], target: string, met: string, digits = 0) => ({
    figure,
    median: Number(median(values).toFixed(digits)),
    'spread (min-max)': spread(values, digits),
    runs: values.length,
    target,
    met,
  });
  const yes = (ok: boolean) => (ok ? 'yes' : 'no');
  const startRss = median(col('rssAfterStartMb'));
  const idleRss = median(col('rssAfterIdleMb'));
  const peak = Math.max(...col('rssPeakMb'));
  const rate = median(rates.map((r) => r.eventsPerSec));
  return [
    {
      title: `${MASTERS.toLocaleString('en')} sim masters in one process (npm start, measured from outside)`,
      rows: [
        row('start-up: spawn -> listening (ms)', col('listenMs'), '-', '-'),
        row('start-up: spawn -> all masters routable (ms)', col('allRoutableMs'), '-', '-'),
        row('RSS after start (MB)', col('rssAfterStartMb'), '<= 150', yes(startRss <= 150)),
        row(`RSS after ${idleSeconds} s idle (MB)`, col('rssAfterIdleMb'), '<= 150', yes(idleRss <= 150)),
        row('RSS peak, spawn to end of idle (MB)', col('rssPeakMb'), '-', '-'),
        row(`CPU while idle (% of one core, ${idleSeconds} s)`, col('idleCpuPercent'), '-', '-', 1),
        row('V8 heap used after idle (MB)', col('heapUsedMb'), '-', '-'),
        row(
          'actor events/s, inspection off',
          rates.map((r) => r.eventsPerSec),
          '>= 100,000',
          yes(rate >= 100_000),
        ),
        row(
          'actor events per CPU second, inspection off',
          rates.map((r) => r.eventsPerCpuSec),
          '-',
          '-',
        ),
      ],
      notes: [
        `${rounds} start(s) of \`switchboard serve\` (tsx, LOG_LEVEL=info) with ${MASTERS} sim masters (default health settings: a probe every 5 s each) on a temp data dir, ${QUICK ? 'quick mode' : 'full mode'}; RSS from /proc/<pid>/status, CPU from utime+stime in /proc/<pid>/stat over the idle window; "after start" is read 1 s after every master is routable; peak sampled every 250 ms.`,
        `Events/s: ${eventRounds} run(s) of bench/inspect.child.ts with inspection off (${QUICK ? '2' : '5'} s each after warm-up): health.probe.succeeded sent to the ${MASTERS} masters round-robin through the real system wiring on a simulated clock, a quarter of them changing state (healthy <-> degraded); the pump yields to the event loop every 1,000 events.`,
        `Peak RSS over all starts: ${peak} MB.`,
      ],
    },
  ];
}
