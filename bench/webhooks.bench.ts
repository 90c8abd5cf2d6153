// Webhooks' cost to dispatch and their delivery rate: N messages through three sim masters with no
// webhook, with a local receiver that answers at once (every event of every message), and with one
// that never answers (held at the per-endpoint bound). `npm run bench -- webhooks`.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createSwitchboard } from '../src/switchboard.ts';
import type { BenchReport } from './run.ts';

const PHONES = ['+971501234567', '+971501234568', '+14155552671'];

async function receiver(answer: boolean) {
  let count = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      count++;
      if (answer) res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    count: () => count,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(label: string, mode: 'none' | 'answers' | 'hangs', n: number) {
  const dir = mkdtempSync(join(tmpdir(), 'bench-webhooks-'));
  const rec = mode === 'none' ? undefined : await receiver(mode === 'answers');
  const sb = await createSwitchboard(
    {
      masters: PHONES.map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 1_000_000 })),
      dispatch: { maxInFlight: 64 },
      sim: { latencyMs: 5 },
      dataDir: dir,
      monitor: { queueWarning: 1_000_000, queueCritical: 2_000_000 },
      webhooks: rec ? [{ url: rec.url, events: ['*'] }] : [],
      webhookDelivery: { timeoutMs: 60_000, concurrency: 4 },
    },
    { log: pino({ level: 'silent' }) },
  );
  try {
    while (sb.getHealthyMasters().length < 3) await sleep(20);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        sb.send({ to: `+9715012${String(30_000 + (i % 500)).padStart(5, '0')}`, text: `m${i}` }),
      ),
    );
    const accepted = performance.now() - t0;
    for (;;) {
      const c = sb.listMessages({ limit: 1 }).counts;
      if (c.queued + c.assigned + c.sending === 0) break;
      await sleep(5);
    }
    const sent = performance.now() - t0;
    let delivered: number | string = '';
    if (mode === 'answers') {
      while (sb.getWebhooks()[0]!.pending > 0) await sleep(5);
      delivered = Math.round(performance.now() - t0);
    }
    return {
      case: label,
      messages: n,
      'accepted (ms)': Math.round(accepted),
      'all sent (ms)': Math.round(sent),
      'events delivered (ms)': delivered,
      'requests to receiver': rec?.count() ?? 0,
    };
  } finally {
    await sb.stop(100);
    rec?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function bench(): Promise<BenchReport> {
  const n = process.argv.includes('--quick') ? 300 : 2_000;
  const rows = [
    await run('no webhook', 'none', n),
    await run('receiver answers 204', 'answers', n),
    await run('receiver never answers', 'hangs', n),
    await run('no webhook (again)', 'none', n),
  ];
  return {
    title: 'Webhooks: dispatch with and without a receiver, and delivery of every event',
    rows,
    notes: [
      'Every event of every message (sent, delivered) goes to one endpoint, at most 4 requests in flight.',
      'A receiver that never answers holds 4 requests open; dispatch does not wait for it.',
    ],
  };
}
