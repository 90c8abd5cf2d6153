// One inspection-cost case in a fresh process (spawned by inspect.bench.ts): 1,000 sim masters in
// the real system wiring on a simulated clock, probe results sent to them as fast as the event loop
// allows, with inspection off, on with no page, or on with one page reading the stream over HTTP.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import pino from 'pino';
import { SimulatedClock } from 'xstate';
import { SimNetwork } from '../actors/sim.transport.ts';
import { SwitchboardSystem } from '../actors/system.ts';
import { InspectionBridge } from '../inspector/bridge.ts';
import { inspectorRoutes } from '../inspector/routes.ts';
import { parseConfig } from '../src/config.ts';
import { Store } from '../src/store/store.ts';
import type { PageReport } from './inspect-page.child.ts';

export type InspectMode = 'off' | 'empty-observer' | 'no-page' | 'one-page';

export interface InspectJob {
  mode: InspectMode;
  masters: number;
  seconds: number;
  warmupSeconds: number;
}

export interface InspectResult {
  mode: InspectMode;
  eventsPerSec: number;
  /** Events per second of this process's CPU time: less sensitive to other processes on the machine. */
  eventsPerCpuSec: number;
  /** Events the page received (log entries) and bytes, per second; 0 without a page. */
  pageEventsPerSec: number;
  pageKBPerSec: number;
  pageDropped: number;
  heapMB: number;
}

const BATCH = 1_000;

async function run(job: InspectJob): Promise<InspectResult> {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-inspect-'));
  const phones = Array.from({ length: job.masters }, (_, i) => `+97150${1_000_000 + i}`);
  const config = parseConfig({
    masters: phones.map((phone, i) => ({ phone, priority: i, ratePerMinute: 1_000 })),
    health: { degradedLatencyMs: 1_500, recoveryThreshold: 2 },
    dataDir: dir,
  });
  const clock = new SimulatedClock();
  clock.set(Date.UTC(2026, 0, 1));
  const store = await Store.open(dir, { fsync: false });
  const bridge = job.mode === 'off' || job.mode === 'empty-observer' ? undefined : new InspectionBridge();
  // XState's own share: it builds an inspection event for every event, snapshot, microstep and action.
  const inspect = job.mode === 'empty-observer' ? () => {} : bridge?.inspect;
  const system = await new SwitchboardSystem({
    config,
    store,
    log: pino({ level: 'silent' }),
    clock,
    network: new SimNetwork({ clock, latencyMs: 0 }),
    ...(inspect ? { inspect } : {}),
  }).start();
  // Connect every master (the sim's connect completes on the simulated clock).
  for (let i = 0; i < 200 && !phones.every((p) => system.balancer.isRoutable(p)); i++) {
    clock.increment(10);
    await new Promise((r) => setImmediate(r));
  }
  const refs = phones.map((p) => system.masterRef(p)!);

  let page: ReturnType<typeof fork> | undefined;
  let app: ReturnType<typeof Fastify> | undefined;
  if (bridge && job.mode === 'one-page') {
    app = Fastify();
    await app.register(inspectorRoutes(bridge));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    page = fork(
      fileURLToPath(new URL('./inspect-page.child.ts', import.meta.url)),
      [`${url}/inspector/stream`],
      {
        execArgv: ['--import', 'tsx'],
      },
    );
    await new Promise<void>((resolve) => page!.once('message', () => resolve()));
    while (bridge.clients === 0) await new Promise((r) => setTimeout(r, 5));
  }

  // A probe cycle per master: good, slow (-> degraded), good, good (-> healthy again): every
  // event is a transition, a quarter of them change state (probe actors stop and start, the
  // balancer and supervisor hear about it).
  const cycle = [
    { type: 'health.probe.succeeded', latencyMs: 20 },
    { type: 'health.probe.succeeded', latencyMs: 2_000 },
    { type: 'health.probe.succeeded', latencyMs: 20 },
    { type: 'health.probe.succeeded', latencyMs: 20 },
  ] as const;
  let sent = 0;
  const pump = async (seconds: number) => {
    const until = performance.now() + seconds * 1_000;
    let n = 0;
    while (performance.now() < until) {
      for (let k = 0; k < BATCH; k++, n++) {
        const ref = refs[n % refs.length]!;
        ref.send(cycle[Math.floor(n / refs.length) % cycle.length]!);
      }
      // Yield as a service does between I/O callbacks, so the stream gets written.
      await new Promise((r) => setImmediate(r));
    }
    return n;
  };
  await pump(job.warmupSeconds);
  const pageBefore = page ? await report(page) : undefined;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  sent = await pump(job.seconds);
  const elapsed = (performance.now() - t0) / 1_000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  // What was sent in the interval reaches the page within a flush.
  await new Promise((r) => setTimeout(r, 300));
  const pageAfter = page ? await report(page) : undefined;
  const heapMB = process.memoryUsage().heapUsed / 2 ** 20;

  page?.kill();
  await app?.close();
  await system.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  const events = (pageAfter?.events ?? 0) - (pageBefore?.events ?? 0);
  const bytes = (pageAfter?.bytes ?? 0) - (pageBefore?.bytes ?? 0);
  return {
    mode: job.mode,
    eventsPerSec: Math.round(sent / elapsed),
    eventsPerCpuSec: Math.round(sent / cpuSeconds),
    pageEventsPerSec: Math.round(events / elapsed),
    pageKBPerSec: Math.round(bytes / 1024 / elapsed),
    pageDropped: (pageAfter?.dropped ?? 0) - (pageBefore?.dropped ?? 0),
    heapMB: Math.round(heapMB),
  };
}

function report(page: ReturnType<typeof fork>): Promise<PageReport> {
  return new Promise((resolve) => {
    page.once('message', (m) => resolve(m as PageReport));
    page.send('report');
  });
}

process.once('message', async (job) => {
  const result = await run(job as InspectJob);
  process.send?.(result, () => process.exit(0));
});
