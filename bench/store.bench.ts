// Store benchmarks (issue 3): commit cost with and without fsync at 10k messages; durable accept
// throughput and p99 with a 10k backlog, group commit vs. naive write-per-message lowdb; time from
// failure detected to durable reassignment of 10k pending messages.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Low } from 'lowdb';
import { JSONFile } from 'lowdb/node';
import pino from 'pino';
import { realClock } from '../actors/clock.ts';
import { SimNetwork } from '../actors/sim.transport.ts';
import { SwitchboardSystem } from '../actors/system.ts';
import { parseConfig } from '../src/config.ts';
import { Outbox } from '../src/outbox.ts';
import { emptyStore, type MessageRecord, type StoreData } from '../src/store/schema.ts';
import { Store } from '../src/store/store.ts';
import type { BenchReport } from './run.ts';

const BACKLOG = 10_000;
const A = '+971501234567';
const B = '+971501234568';
const C = '+14155552671';

function dir(): string {
  return mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
}

function message(i: number, status: MessageRecord['status'], master: string | null): MessageRecord {
  const now = Date.now();
  return {
    id: `backlog-${i}`,
    to: `+97150110${String(10000 + (i % 5000)).slice(1)}`,
    text: `backlog message number ${i}, about as long as a short notification text`,
    status,
    master,
    epoch: i,
    attempts: 0,
    createdAt: now,
    history: [
      { at: now, status: 'queued' },
      ...(master ? [{ at: now, status: 'assigned' as const, master }] : []),
    ],
  };
}

function backlog(status: MessageRecord['status'], master: string | null): StoreData {
  const data = emptyStore();
  for (let i = 0; i < BACKLOG; i++) data.messages[`backlog-${i}`] = message(i, status, master);
  data.epoch = BACKLOG;
  return data;
}

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function commitCost(): Promise<BenchReport> {
  const rows: Record<string, string | number>[] = [];
  for (const fsync of [false, true]) {
    const d = dir();
    const store = await Store.open(d, { fsync, lock: false });
    Object.assign(store.data, backlog('queued', null));
    await store.commit();
    const times: number[] = [];
    for (let i = 0; i < 30; i++) {
      store.data.epoch++;
      const t0 = performance.now();
      await store.commit();
      times.push(performance.now() - t0);
    }
    rows.push({
      commit: fsync ? 'temp + fsync file + rename + fsync dir' : 'temp + rename (steno-like, no fsync)',
      messages: BACKLOG,
      bytes: JSON.stringify(store.data).length,
      'median ms': +pct(times, 50).toFixed(2),
      'p99 ms': +pct(times, 99).toFixed(2),
    });
    await store.close();
    rmSync(d, { recursive: true, force: true });
  }
  // lowdb's own JSONFile (steno) for reference
  const d = dir();
  const db = new Low<StoreData>(new JSONFile(join(d, 'db.json')), backlog('queued', null));
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    await db.write();
    times.push(performance.now() - t0);
  }
  rows.push({
    commit: 'lowdb JSONFile (steno), for reference',
    messages: BACKLOG,
    bytes: JSON.stringify(db.data).length,
    'median ms': +pct(times, 50).toFixed(2),
    'p99 ms': +pct(times, 99).toFixed(2),
  });
  rmSync(d, { recursive: true, force: true });
  return { title: 'Commit cost at 10k messages', rows };
}

const CLIENTS = 200;
const ACCEPT_SECONDS = 4;

async function acceptGroupCommit(fsync: boolean): Promise<Record<string, string | number>> {
  const d = dir();
  const store = await Store.open(d, { fsync, lock: false });
  Object.assign(store.data, backlog('queued', null));
  await store.commit();
  const outbox = new Outbox(store, realClock);
  const latencies: number[] = [];
  const until = performance.now() + ACCEPT_SECONDS * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        await outbox.accept({ to: '+971501112233', text: `accepted message ${n++}` });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const row = {
    path: `group commit${fsync ? ' + fsync' : ''}`,
    clients: CLIENTS,
    'accepted/s': Math.round(latencies.length / ACCEPT_SECONDS),
    'p50 ms': +pct(latencies, 50).toFixed(1),
    'p99 ms': +pct(latencies, 99).toFixed(1),
    commits: store.stats.commits,
  };
  await store.close();
  rmSync(d, { recursive: true, force: true });
  return row;
}

async function acceptNaive(): Promise<Record<string, string | number>> {
  const d = dir();
  const db = new Low<StoreData>(new JSONFile(join(d, 'db.json')), backlog('queued', null));
  await db.write();
  const latencies: number[] = [];
  const until = performance.now() + ACCEPT_SECONDS * 1000;
  let n = 0;
  let writes = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (performance.now() < until) {
        const t0 = performance.now();
        const i = BACKLOG + n++;
        db.data.messages[`naive-${i}`] = message(i, 'queued', null);
        await db.write();
        writes++;
        latencies.push(performance.now() - t0);
      }
    }),
  );
  rmSync(d, { recursive: true, force: true });
  return {
    path: 'naive: lowdb write() per message (no fsync)',
    clients: CLIENTS,
    'accepted/s': Math.round(latencies.length / ACCEPT_SECONDS),
    'p50 ms': +pct(latencies, 50).toFixed(1),
    'p99 ms': +pct(latencies, 99).toFixed(1),
    commits: writes,
  };
}

async function acceptThroughput(): Promise<BenchReport> {
  const rows = [await acceptGroupCommit(false), await acceptGroupCommit(true), await acceptNaive()];
  const [group, , naive] = rows;
  const ratio = Number(group?.['accepted/s']) / Math.max(1, Number(naive?.['accepted/s']));
  return {
    title: `Durable accept with a ${BACKLOG / 1000}k backlog, ${CLIENTS} concurrent callers, ${ACCEPT_SECONDS} s`,
    rows,
    notes: [`group commit accepts ${ratio.toFixed(0)}x the naive throughput (same process, same backlog)`],
  };
}

async function failover10k(): Promise<BenchReport> {
  const rows: Record<string, string | number>[] = [];
  for (const fsync of [true, false]) {
    const d = dir();
    const store = await Store.open(d, { fsync });
    Object.assign(store.data, backlog('assigned', A));
    await store.commit();
    const config = parseConfig({
      masters: [
        { phone: A, priority: 1, ratePerMinute: 1_000 },
        { phone: B, priority: 2, ratePerMinute: 1_000 },
        { phone: C, priority: 3, ratePerMinute: 1_000 },
      ],
      health: { intervalMs: 1_000, timeoutMs: 500 },
      dispatch: { maxInFlight: 1 },
      dataDir: d,
    });
    const network = new SimNetwork({ clock: realClock, latencyMs: 200 });
    const system = new SwitchboardSystem({ config, store, log: pino({ level: 'silent' }), network }).start();
    while (!system.balancer.isRoutable(A) || !system.balancer.isRoutable(B))
      await new Promise((r) => setTimeout(r, 5));
    const t0 = performance.now();
    network.inject(A, { kind: 'logout' }); // detected at once: the close event
    let t1 = 0;
    while (!t1) {
      const f = system
        .failovers()
        .find((x) => x.from === A && (x.status === 'activating' || x.status === 'completed'));
      if (f) t1 = performance.now();
      else await new Promise((r) => setImmediate(r));
    }
    const moved = system.failovers()[0]?.moved.messages ?? 0;
    rows.push({
      case: `logout of a master holding ${BACKLOG / 1000}k messages`,
      fsync: fsync ? 'yes' : 'no',
      'moved messages': moved,
      'detected -> durable reassignment ms': +(t1 - t0).toFixed(1),
      'transaction commit ms': +store.stats.lastCommitMs.toFixed(1),
    });
    await system.stop();
    await store.close();
    rmSync(d, { recursive: true, force: true });
  }
  return { title: 'Failover of 10k pending messages', rows };
}

export default async function run(): Promise<BenchReport[]> {
  return [await commitCost(), await acceptThroughput(), await failover10k()];
}
