// Store benchmarks (issue 8), in one run: durable accept over HTTP (autocannon, 64 connections) at
// a 0, 10k and 100k backlog for switchboard, beside a bare Fastify + group-committed fsync'd append
// server (the ceiling) and naive lowdb (one db.write() per message), with GET /healthz sampled
// during the load; failover of a master owning 100k contacts, detection to durable; restart to
// ready with a 100k backlog; resident memory at that backlog.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SimNetwork } from '../actors/sim.transport.ts';
import { SwitchboardSystem } from '../actors/system.ts';
import { parseConfig } from '../src/config.ts';
import { CHECKPOINT_FILE, type CheckpointDocument } from '../src/store/checkpoint.ts';
import type { MessageRecord } from '../src/store/schema.ts';
import { Store } from '../src/store/store.ts';
import type { BenchReport } from './run.ts';
import { quick } from './support/mode.ts';
import { type LoadResult, percentile, postLoad, rssMb, startServer } from './support/processes.ts';
import { median, round, spread } from './support/stats.ts';

const A = '+971501234567';
const B = '+971501234568';
const C = '+14155552671';
const cli = join(import.meta.dirname, '..', 'src', 'cli.ts');
const seconds = quick ? 2 : 8;
const backlogs = process.env.STORE_BACKLOGS
  ? process.env.STORE_BACKLOGS.split(',').map(Number)
  : quick
    ? [0, 10_000]
    : [0, 10_000, 100_000];
/** STORE_PROFILE=dir: the switchboard server writes a CPU profile there (node --cpu-prof). */
const profile = process.env.STORE_PROFILE
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env.STORE_PROFILE}`]
  : [];

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
}

function recipient(i: number): string {
  return `+97150${String(10_000_000 + (i % 50_000)).slice(1)}`;
}

function queued(i: number, now: number): MessageRecord {
  return {
    id: `backlog-${i}`,
    to: recipient(i),
    text: `backlog message number ${i}, about as long as a short notification text`,
    status: 'queued',
    master: null,
    epoch: 0,
    attempts: 0,
    createdAt: now - 1_000_000 + i,
    history: [{ at: now, status: 'queued' }],
  };
}

/** A data dir whose checkpoint holds `n` queued messages (and `contacts` affinity entries on A). */
function preload(path: string, n: number, contacts = 0): void {
  mkdirSync(path, { recursive: true });
  const now = Date.now();
  const messages: Record<string, MessageRecord> = {};
  for (let i = 0; i < n; i++) messages[`backlog-${i}`] = queued(i, now);
  const affinity: Record<string, string> = {};
  for (let i = 0; i < contacts; i++) affinity[`+1555${String(10_000_000 + i).slice(1)}`] = A;
  const doc: CheckpointDocument = {
    version: 2,
    journal: { next: 1, group: 0 },
    collections: { messages, affinity },
  };
  writeFileSync(join(path, CHECKPOINT_FILE), JSON.stringify(doc));
}

function serviceConfig(dataDir: string): string {
  const file = join(dataDir, '..', `config-${Math.floor(performance.now())}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      // Sending is not what is measured: the masters' rate keeps the backlog queued.
      masters: [A, B, C].map((phone, i) => ({ phone, priority: i + 1 })),
      store: { segmentMiB: 4, checkpointMiB: 8 },
      dataDir,
    }),
  );
  return file;
}

function naiveDoc(path: string, n: number): void {
  const now = Date.now();
  const messages: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) messages[`backlog-${i}`] = queued(i, now);
  writeFileSync(path, JSON.stringify({ messages }));
}

/**
 * Durable accept, switchboard beside the ceiling in interleaved rounds (ceiling, switchboard,
 * ceiling, ...) on the same data sizes, so the ratio is read per round on a machine whose speed
 * moves; naive lowdb once per backlog (it is far below either).
 */
async function acceptThroughput(): Promise<BenchReport> {
  const rows: Record<string, string | number>[] = [];
  const notes: string[] = [];
  const rounds = quick ? 1 : Number(process.env.STORE_ROUNDS ?? 3);
  for (const backlog of backlogs) {
    const tops: LoadResult[] = [];
    const ours: LoadResult[] = [];
    const ratios: number[] = [];
    const rss: string[] = [];
    let checkpoints = 0;
    for (let round = 0; round < rounds; round++) {
      const root = dir();
      const ceiling = await startServer([
        join(import.meta.dirname, 'servers', 'append-server.ts'),
        join(root, 'append.jsonl'),
      ]);
      const top = await postLoad(ceiling.url, seconds);
      await ceiling.stop();
      const data = join(root, 'data');
      preload(data, backlog);
      const sb = await startServer(
        [...profile, cli, 'serve', '--config', serviceConfig(data), '--port', '0'],
        {
          LOG_LEVEL: 'info',
        },
      );
      const rssBefore = rssMb(sb.child.pid!);
      const r = await postLoad(sb.url, seconds);
      rss.push(`${rssBefore}/${rssMb(sb.child.pid!)}`);
      checkpoints += (sb.output().match(/checkpoint written/g) ?? []).length;
      await sb.stop(profile.length > 0 ? 'SIGTERM' : 'SIGKILL');
      rmSync(root, { recursive: true, force: true });
      tops.push(top);
      ours.push(r);
      ratios.push(r.perSecond / Math.max(1, top.perSecond));
    }
    const root = dir();
    const naiveFile = join(root, 'naive.json');
    naiveDoc(naiveFile, backlog);
    const naive = await startServer([
      join(import.meta.dirname, 'servers', 'naive-lowdb-server.ts'),
      naiveFile,
      '0',
    ]);
    const low = await postLoad(naive.url, seconds);
    await naive.stop();
    rmSync(root, { recursive: true, force: true });
    rows.push(
      summary('ceiling: Fastify + group-committed fsync append', backlog, tops, null),
      { ...summary('switchboard', backlog, ours, ratios), checkpoints, 'RSS MB start/end': rss.join(' ') },
      summary(
        'naive lowdb: db.write() per message',
        backlog,
        [low],
        [low.perSecond / Math.max(1, median(tops.map((t) => t.perSecond)))],
      ),
    );
  }
  notes.push(
    `autocannon, 64 connections, ${seconds} s per case, ${rounds} interleaved round(s) per backlog (ceiling then switchboard, each a separate process on this machine); figures are medians over the rounds with min-max; "of ceiling" is the median of the per-round ratios. GET /healthz sampled every 10 ms during the load.`,
    'switchboard runs with store.checkpointMiB 8 and segmentMiB 4 so checkpoints (in a worker thread) happen during the load; "checkpoints" counts them over the rounds.',
  );
  return { title: 'Durable accept over HTTP (POST /api/messages, 202 after fsync)', rows, notes };
}

function summary(server: string, backlog: number, runs: LoadResult[], ratios: number[] | null) {
  const per = runs.map((r) => r.perSecond);
  return {
    server,
    backlog,
    'accepted/s': Math.round(median(per)),
    'accepted/s min-max': spread(per),
    'of ceiling': ratios
      ? `${Math.round(100 * median(ratios))}%${ratios.length > 1 ? ` (${spread(ratios.map((x) => 100 * x))}%)` : ''}`
      : '100%',
    'p50 ms': median(runs.map((r) => r.p50)),
    'p99 ms': median(runs.map((r) => r.p99)),
    'healthz p99 ms': round(median(runs.map((r) => r.healthP99)), 1),
    'non-2xx': runs.reduce((n, r) => n + r.non2xx + r.errors, 0),
  } as Record<string, string | number>;
}

/** A master with 100k contacts fails (logout): time until the transfer is durable. */
async function failover(): Promise<BenchReport> {
  const contacts = quick ? 10_000 : 100_000;
  const runs = quick ? 5 : 20;
  const root = dir();
  preload(root, 1_000, contacts);
  const config = parseConfig({
    masters: [A, B, C].map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 600 })),
    health: { intervalMs: 100, timeoutMs: 80, failureThreshold: 3, recoveryThreshold: 1 },
    recovery: { timeoutMs: 500, maxAttempts: 1000, backoffBaseMs: 20, backoffMaxMs: 50 },
    dataDir: root,
  });
  const store = await Store.open(root, { fsync: true, checkpointer: 'worker' });
  const network = new SimNetwork({ latencyMs: 2, seed: 1 });
  const system = await new SwitchboardSystem({
    config,
    store,
    log: pino({ level: 'silent' }),
    network,
  }).start();
  const waitFor = async (what: () => boolean) => {
    while (!what()) await new Promise((r) => setTimeout(r, 2));
  };
  const detectToDurable: number[] = [];
  const injectToDurable: number[] = [];
  let moved = 0;
  for (let i = 0; i < runs; i++) {
    await waitFor(() => system.balancer.isRoutable(A) && system.balancer.isRoutable(B));
    const known = new Set(store.map('failovers').keys());
    const ref = system.masterRef(A)!;
    let detected = 0;
    const sub = ref.on('master.failed', () => {
      detected = performance.now();
    });
    const durable = new Promise<number>((resolve) => {
      const off = store.onEvent((e) => {
        if (e.type !== 'committed') return;
        for (const [id, f] of store.map('failovers')) {
          if (!known.has(id) && f.from === A) {
            moved = f.moved.contacts;
            off();
            resolve(performance.now());
            return;
          }
        }
      });
    });
    const t0 = performance.now();
    network.inject(A, { kind: 'logout' });
    const t1 = await durable;
    sub.unsubscribe();
    detectToDurable.push(t1 - detected);
    injectToDurable.push(t1 - t0);
    // put things back: A reconnects and gets its contacts back
    network.inject(A, { kind: 'heal' });
    await waitFor(() => Object.keys(system.supervisor.getSnapshot().context.incidents).length === 0);
    system.manualReset(A);
    const backup = [...store.map('failovers').values()].find((f) => !known.has(f.id))?.to ?? B;
    await store.transaction((tx) => tx.moveAffinity(backup, A));
  }
  await system.stop();
  await store.close();
  rmSync(root, { recursive: true, force: true });
  const fmt = (v: number) => Math.round(v * 10) / 10;
  return {
    title: `Failover of a master owning ${contacts.toLocaleString('en')} contacts, detection to durable (${runs} runs)`,
    rows: [
      {
        measured: "master.failed emitted -> transfer record fsync'd",
        'median ms': fmt(percentile(detectToDurable, 50)),
        'p99 ms': fmt(percentile(detectToDurable, 99)),
        'max ms': fmt(Math.max(...detectToDurable)),
      },
      {
        measured: "logout injected -> transfer record fsync'd",
        'median ms': fmt(percentile(injectToDurable, 50)),
        'p99 ms': fmt(percentile(injectToDurable, 99)),
        'max ms': fmt(Math.max(...injectToDurable)),
      },
    ],
    notes: [
      `contacts moved per failover: ${moved}; the move is one journal op ("move A -> B"), so the record stays small.`,
      'in-process, real clock, real files with fsync, sim transport with 2 ms latency.',
    ],
  };
}

/** Restart with a big backlog: process start to listening, and the store's own open time. */
async function restart(): Promise<BenchReport> {
  const backlog = quick ? 10_000 : 100_000;
  const root = dir();
  const data = join(root, 'data');
  preload(data, backlog);
  // a journal on top of the checkpoint too: run the service once with some traffic, then SIGKILL
  const first = await startServer([cli, 'serve', '--config', serviceConfig(data), '--port', '0']);
  await postLoad(first.url, quick ? 1 : 3);
  await first.stop();
  const journal = readdirSync(data)
    .filter((f) => f.startsWith('journal-'))
    .reduce((n, f) => n + statSync(join(data, f)).size, 0);
  const rows: Record<string, string | number>[] = [];
  const runs = quick ? 1 : 3;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const s = await startServer([cli, 'serve', '--config', serviceConfig(data), '--port', '0']);
    const listening = performance.now() - t0;
    let ready = 0;
    for (;;) {
      if ((await fetch(`${s.url}/readyz`)).status === 200) {
        ready = performance.now() - t0;
        break;
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    const rss = rssMb(s.child.pid!);
    await s.stop();
    const o0 = performance.now();
    const store = await Store.open(data, { fsync: false, checkpointer: 'off' });
    const openMs = performance.now() - o0;
    const messages = store.map('messages').size;
    store.halt();
    rows.push({
      run: i + 1,
      messages,
      'journal MB': Math.round(journal / 1e5) / 10,
      'Store.open ms': Math.round(openMs),
      'spawn -> listening ms': Math.round(listening),
      'spawn -> /readyz 200 ms': Math.round(ready),
      'RSS MB': rss,
    });
  }
  rmSync(root, { recursive: true, force: true });
  return {
    title: `Restart to ready with a ${backlog.toLocaleString('en')}-message backlog (after a SIGKILL, journal not yet checkpointed)`,
    rows,
    notes: [
      'spawn -> listening includes starting Node and tsx (TypeScript is compiled at start); Store.open is the checkpoint load plus journal replay alone.',
    ],
  };
}

export default async function storeBenchmarks(): Promise<BenchReport[]> {
  // STORE_CASES=failover (or accept, restart; comma-separated) runs some of them, e.g. under --cpu-prof.
  const only = process.env.STORE_CASES?.split(',');
  const cases = { accept: acceptThroughput, failover, restart };
  const out: BenchReport[] = [];
  for (const [name, run] of Object.entries(cases)) if (!only || only.includes(name)) out.push(await run());
  return out;
}
