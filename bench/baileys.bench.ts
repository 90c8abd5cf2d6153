// Baileys transport figures (issue 12), against the loopback endpoint: how long a transport close
// takes to take its master out of rotation, and what one idle Baileys socket costs in memory.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { waitFor } from 'xstate';
import type { BaileysTransport } from '../actors/transports/baileys/baileys.transport.ts';
import {
  baileysMaster,
  baileysTransport,
  FAST_SETTINGS,
  seedPairedAuth,
  tempDataDir,
} from '../test/support/baileys.ts';
import { trustEndpointRoot, type WaConnection, WaEndpoint } from '../test/support/wa-endpoint.ts';
import type { BenchReport } from './run.ts';
import { quick } from './support/mode.ts';

const PHONE = '+15550001111';

function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

/** Time from the server closing the connection to the master losing its "routable" tag. */
async function closeToOutOfRotation(closes: number): Promise<BenchReport> {
  const rows: Record<string, string | number>[] = [];
  const kinds: [string, (c: WaConnection) => void][] = [
    ['TCP drop (Baileys: 428)', (c) => c.drop()],
    ['stream error 515 (restart required)', (c) => c.streamError(515)],
    ['stream error 503 (unavailable)', (c) => c.streamError(503)],
  ];
  for (const [kind, close] of kinds) {
    const data = tempDataDir();
    const endpoint = await WaEndpoint.start();
    await seedPairedAuth(data.dir, PHONE);
    const transport = baileysTransport(data.dir, PHONE, endpoint, { probeTimeoutMs: 500 });
    // Short probe interval and one good probe: each cycle is close -> reconnect -> healthy.
    const master = baileysMaster(transport, { ...FAST_SETTINGS, probeIntervalMs: 20, recoveryThreshold: 1 });
    const samples: number[] = [];
    try {
      for (let i = 0; i < closes; i++) {
        await master.reach('healthy', 10_000);
        const conn = endpoint.current!;
        const out = waitFor(master.actor, (s) => !s.hasTag('routable'), { timeout: 5_000 });
        const started = performance.now();
        close(conn);
        await out;
        samples.push(performance.now() - started);
      }
    } finally {
      await master.stop();
      await endpoint.close();
      data.remove();
    }
    rows.push({
      close: kind,
      closes: samples.length,
      'p50 ms': round(pct(samples, 50)),
      'p99 ms': round(pct(samples, 99)),
      'max ms': round(Math.max(...samples)),
    });
  }
  return {
    title: 'Baileys: transport close to master out of rotation',
    rows,
    notes: [
      'From the endpoint acting (same process, loopback) to the master snapshot without the "routable" tag ' +
        '(the balancer reads that tag on the same snapshot). Each close is followed by a reconnect on a new ' +
        'socket and one good probe before the next one.',
    ],
  };
}

/** Heap, external and RSS growth per open, idle socket; the endpoint runs in another process. */
async function idleSocketMemory(sockets: number, idleMs: number): Promise<BenchReport> {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  const child = fork(fileURLToPath(new URL('./support/wa-endpoint.child.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
  });
  const { url, root } = await new Promise<{ url: string; root: string }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { url: string; root: string }));
    child.once('error', reject);
  });
  trustEndpointRoot(Buffer.from(root, 'hex'));
  const data = tempDataDir();
  const transports: BaileysTransport[] = [];
  const open = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const phone = `+1555100${String(1000 + transports.length).slice(1)}`;
      await seedPairedAuth(data.dir, phone);
      const t = baileysTransport(data.dir, phone, url, { keepAliveIntervalMs: 30_000 });
      transports.push(t);
      await t.connect(new AbortController().signal);
    }
  };
  const settle = async () => {
    await new Promise((r) => setTimeout(r, idleMs));
    for (let i = 0; i < 3; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 50));
    }
    return process.memoryUsage();
  };
  try {
    await open(2); // modules, the wasm bridge and caches are paid once, before the baseline
    const before = await settle();
    await open(sockets);
    const after = await settle();
    const per = (k: 'heapUsed' | 'external' | 'rss') => Math.round((after[k] - before[k]) / sockets / 1024);
    return {
      title: 'Baileys: memory of one idle socket',
      rows: [
        {
          sockets,
          'heap KiB/socket': per('heapUsed'),
          'external KiB/socket': per('external'),
          'RSS KiB/socket': per('rss'),
        },
      ],
      notes: [
        'Open, logged-in sockets with no traffic (keep-alive 30 s), after GC; growth from a baseline with 2 ' +
          'sockets already open, divided by the sockets added. The endpoint runs in a child process.',
      ],
    };
  } finally {
    await Promise.all(transports.map((t) => t.close()));
    child.disconnect();
    data.remove();
  }
}

export default async function baileysBench(): Promise<BenchReport[]> {
  return [
    await closeToOutOfRotation(quick ? 10 : 100),
    await idleSocketMemory(quick ? 5 : 50, quick ? 300 : 1_000),
  ];
}
