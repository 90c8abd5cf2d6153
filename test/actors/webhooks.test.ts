// Webhooks in the running system on a SimulatedClock, with a scripted receiver in place of fetch and
// one seeded PRNG: which events are recorded (and that they commit with their change), the retry,
// backoff and parking policy, order per message, the per-endpoint bound, and what a body carries.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { seededRandom } from '../../src/routing/random.ts';
import { CHECKPOINT_FILE } from '../../src/store/checkpoint.ts';
import { Store } from '../../src/store/store.ts';
import type { Fetch } from '../../src/webhooks/delivery.ts';
import { simClock } from '../support/clock.ts';
import { SimFileSystem } from '../support/sim-fs.ts';
import { RECIPIENTS, startTestSystem, type TestSystem, tempDir } from '../support/system.ts';

const SECRET = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const URL_A = 'http://receiver.test/hook';

interface Received {
  at: number;
  headers: Record<string, string>;
  raw: string;
  body: { id: string; type: string; timestamp: string; data: Record<string, unknown> };
}

/** A receiver behind fetch: answers after `latencyMs` (simulated) with what `answer` says. */
function receiver(
  t: () => TestSystem,
  answer: (req: Received, n: number) => number | 'hang' = () => 200,
  latencyMs: (n: number) => number = () => 5,
) {
  const received: Received[] = [];
  let open = 0;
  let maxOpen = 0;
  const fetch: Fetch = (_url, init) => {
    const raw = String(init.body);
    const req: Received = {
      at: t().clock.now(),
      headers: init.headers as Record<string, string>,
      raw,
      body: JSON.parse(raw),
    };
    received.push(req);
    const n = received.length;
    open++;
    maxOpen = Math.max(maxOpen, open);
    const status = answer(req, n);
    return new Promise<Response>((resolve, reject) => {
      init.signal?.addEventListener('abort', () => {
        open--;
        reject(init.signal?.reason ?? new Error('aborted'));
      });
      if (status === 'hang') return;
      t().clock.setTimeout(() => {
        open--;
        resolve(new Response(null, { status }));
      }, latencyMs(n));
    });
  };
  return {
    fetch,
    received,
    maxOpen: () => maxOpen,
    types: (type?: string) => received.filter((r) => !type || r.body.type === type),
  };
}

let current: TestSystem | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await current?.close();
  current = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(fetch: Fetch, config: Partial<ConfigInput> = {}, dir?: string): Promise<TestSystem> {
  current = await startTestSystem({
    fetch,
    random: seededRandom(42),
    ...(dir ? { dir } : {}),
    config: {
      webhooks: [{ url: URL_A, events: ['*'], secret: SECRET }],
      webhookDelivery: {
        timeoutMs: 1_000,
        maxAttempts: 4,
        backoffBaseMs: 100,
        backoffMaxMs: 1_000,
        concurrency: 4,
      },
      ...config,
    },
  });
  return current;
}

function send(t: TestSystem, n: number): void {
  for (let i = 0; i < n; i++)
    void t.system
      .send({ to: RECIPIENTS[i % RECIPIENTS.length]!, text: `secret text ${i}` })
      .catch(() => undefined);
}

describe('webhook events in the running system', () => {
  it('each message sends "message.sent" then "message.delivered", signed, with id and status but no text', async () => {
    const r = receiver(
      () => t,
      undefined,
      (n) => 1 + ((n * 7919) % 40),
    );
    const t = await start(r.fetch);
    await t.advance(200);
    send(t, 12);
    await t.advance(3_000);
    const byMessage = new Map<string, string[]>();
    for (const req of r.received) {
      // Standard Webhooks: HMAC-SHA256 over id.timestamp.body (the real-receiver test runs Webhook.verify,
      // which also checks the timestamp against real time: simulated time is in 2026-01-01 here)
      const signer = new Webhook(SECRET);
      const ts = new Date(Number(req.headers['webhook-timestamp']) * 1000);
      expect(req.headers['webhook-signature']).toBe(signer.sign(req.body.id, ts, req.raw));
      expect(req.headers['webhook-signature']).not.toBe(
        signer.sign(req.body.id, ts, req.raw.replace('"', ' "')),
      );
      expect(req.headers['webhook-id']).toBe(req.body.id);
      expect(req.raw).not.toContain('secret text');
      const id = req.body.data.messageId as string;
      byMessage.set(id, [...(byMessage.get(id) ?? []), req.body.type]);
    }
    expect(byMessage.size).toBe(12);
    for (const types of byMessage.values()) expect(types).toEqual(['message.sent', 'message.delivered']);
    expect(r.types('message.sent')[0]!.body).toMatchObject({
      id: expect.stringMatching(/^evt_/),
      timestamp: expect.stringMatching(/^2026-01-01T/),
      data: { status: 'sent', previousStatus: 'sending', attempts: 1, master: expect.any(String) },
    });
    expect(new Set(r.received.map((q) => q.body.id)).size).toBe(r.received.length);
    expect(t.system.webhooks.deliveries('pending')).toEqual([]);
  });

  it('an endpoint asking for "includeText" gets the text read at delivery time; others never do', async () => {
    const r = receiver(() => t);
    const t = await start(r.fetch, {
      webhooks: [
        { url: URL_A, events: ['message.sent'], includeText: true },
        { url: 'http://other.test/', events: ['message.delivered'] },
      ],
    });
    await t.advance(200);
    send(t, 2);
    await t.advance(2_000);
    expect(
      r
        .types('message.sent')
        .map((q) => q.body.data.text)
        .sort(),
    ).toEqual(['secret text 0', 'secret text 1']);
    expect(r.types('message.delivered')).toHaveLength(2);
    for (const q of r.types('message.delivered')) expect(q.body.data).not.toHaveProperty('text');
    expect(r.received.every((q) => q.headers['webhook-signature'] === undefined)).toBe(true);
  });

  it('a logout sends "master.failed", "alert.opened", "failover.completed"; heal and reset send "master.recovered" and "alert.resolved"', async () => {
    const r = receiver(() => t);
    const t = await start(r.fetch, {
      webhooks: [
        {
          url: URL_A,
          events: [
            'master.failed',
            'master.recovered',
            'failover.completed',
            'failover.rolledBack',
            'alert.opened',
            'alert.resolved',
          ],
        },
      ],
    });
    const A = t.system.masterPhones()[0]!;
    await t.advance(200);
    t.network.inject(A, { kind: 'hang' });
    await t.advance(8_000);
    expect(r.types('master.failed')[0]?.body.data).toMatchObject({ master: A });
    expect(r.types('failover.completed')).toEqual([
      expect.objectContaining({
        body: expect.objectContaining({
          data: expect.objectContaining({ failoverId: 'fo-1', from: A, status: 'completed' }),
        }),
      }),
    ]);
    const opened = r.types('alert.opened').map((q) => q.body.data.key);
    expect(opened).toEqual(expect.arrayContaining([`master.failed:${A}`, `failover.completed:${A}`]));
    t.network.inject(A, { kind: 'heal' });
    t.system.manualReset(A);
    await t.advance(6_000);
    expect(r.types('master.recovered').map((q) => q.body.data.master)).toContain(A);
    expect(r.types('alert.resolved').map((q) => q.body.data.key)).toEqual(
      expect.arrayContaining([`master.failed:${A}`, `failover.completed:${A}`]),
    );
    // every alert event pair arrives opened before resolved
    for (const q of r.types('alert.resolved')) {
      const open = r.received.findIndex(
        (o) => o.body.type === 'alert.opened' && o.body.data.alertId === q.body.data.alertId,
      );
      expect(open).toBeGreaterThanOrEqual(0);
      expect(open).toBeLessThan(r.received.indexOf(q));
    }
  });
});

describe('webhook delivery policy', () => {
  it('a 503 is retried with exponential backoff and jitter until a 200; the event keeps its id', async () => {
    const r = receiver(
      () => t,
      (_q, n) => (n <= 3 ? 503 : 200),
      () => 0,
    );
    const t = await start(r.fetch, { webhooks: [{ url: URL_A, events: ['message.sent'] }] });
    await t.advance(200);
    send(t, 1);
    await t.advance(3_000);
    expect(r.received).toHaveLength(4);
    expect(new Set(r.received.map((q) => q.body.id)).size).toBe(1);
    const gaps = r.received.slice(1).map((q, i) => q.at - r.received[i]!.at);
    // base 100 ms: waits in [50, 100], [100, 200], [200, 400] (plus the step of the test clock)
    gaps.forEach((gap, i) => {
      const exp = 100 * 2 ** i;
      expect(gap).toBeGreaterThanOrEqual(exp / 2);
      expect(gap).toBeLessThanOrEqual(exp + 20);
    });
    expect(t.system.webhooks.deliveries('pending')).toEqual([]);
    const text = (await t.system.monitor.metrics.registry.metrics()).split('\n');
    expect(text).toContain(
      `switchboard_webhook_attempts_total{webhook="${t.system.webhooks.endpoints()[0]!.id}",outcome="failed"} 3`,
    );
  });

  it('a 400 parks the event at once (the next event of that message then goes); a 429 is retried; a parked event can be retried', async () => {
    let mode: 'refuse' | 'ok' = 'refuse';
    const r = receiver(
      () => t,
      (q) => (mode === 'refuse' ? (q.body.type === 'message.sent' ? 400 : 429) : 200),
      () => 0,
    );
    const t = await start(r.fetch, {
      webhooks: [{ url: URL_A, events: ['message.sent', 'message.delivered'] }],
    });
    await t.advance(200);
    send(t, 1);
    await t.advance(150);
    const parked = t.system.webhooks.deliveries('parked');
    expect(parked).toEqual([
      expect.objectContaining({
        attempts: 1,
        lastError: 'HTTP 400',
        event: expect.objectContaining({ type: 'message.sent' }),
      }),
    ]);
    // "delivered" waited for "sent" to be parked, then got 429s: still pending, retried
    await t.advance(400);
    const delivered = r.types('message.delivered');
    expect(delivered.length).toBeGreaterThanOrEqual(2);
    expect(delivered[0]!.at).toBeGreaterThanOrEqual(r.types('message.sent')[0]!.at);
    expect(t.system.webhooks.deliveries('pending')).toHaveLength(1);
    mode = 'ok';
    await t.advance(1_200);
    expect(t.system.webhooks.deliveries('pending')).toEqual([]);
    await t.system.webhooks.retry(parked[0]!.id);
    await t.advance(100);
    expect(t.system.webhooks.deliveries('parked')).toEqual([]);
    expect(r.types('message.sent').map((q) => q.body.id)).toEqual([parked[0]!.event.id, parked[0]!.event.id]);
  });

  it('a receiver that never answers: each attempt times out, the event is parked after maxAttempts, and dispatch is not held up', async () => {
    const r = receiver(
      () => t,
      () => 'hang',
    );
    const t = await start(r.fetch, { webhooks: [{ url: URL_A, events: ['*'] }] });
    await t.advance(200);
    send(t, 40);
    await t.advance(1_000);
    // every message went out while the receiver held every request open
    expect(
      t.system.outbox.counts().queued + t.system.outbox.counts().sending + t.system.outbox.counts().assigned,
    ).toBe(0);
    expect(r.maxOpen()).toBe(4);
    expect(t.system.webhookDelivery.inFlight()).toBe(4);
    await t.advance(20_000);
    const parked = t.system.webhooks.deliveries('parked');
    expect(parked.length).toBeGreaterThan(0);
    expect(parked[0]).toMatchObject({
      attempts: 4,
      lastError: expect.stringMatching(/timed out after 1000 ms/),
    });
    expect(r.maxOpen()).toBe(4);
  });

  it('a change is on disk with its event: after a crash the reopened store holds an event for every sent message', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const r = receiver(
      () => t,
      () => 'hang',
    );
    const t = await start(
      r.fetch,
      { webhooks: [{ url: URL_A, events: ['message.sent', 'message.delivered'] }] },
      dir,
    );
    await t.advance(200);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      void t.system.send({ to: RECIPIENTS[i]!, text: `m${i}` }).then((a) => ids.push(a.id));
    await t.advance(500);
    await t.store.flushed();
    t.system.halt();
    t.store.halt();
    current = undefined;
    const disk = await Store.open(dir, { fsync: false, checkpointer: 'off' });
    try {
      const expected: string[] = [];
      for (const id of ids) {
        const m = disk.get('messages', id) ?? (await disk.archived(id));
        if (m?.status === 'sent' || m?.status === 'delivered') expected.push(`message.sent ${id}`);
        if (m?.status === 'delivered') expected.push(`message.delivered ${id}`);
      }
      expect(expected.length).toBeGreaterThanOrEqual(10);
      const events = [...disk.map('webhookDeliveries').values()].map(
        (d) => `${d.event.type} ${d.event.data.messageId}`,
      );
      expect(events.sort()).toEqual(expected.sort());
    } finally {
      await disk.close();
    }
  });

  it('at every instant a crash could strike, a message status on disk has its event on disk with it', async () => {
    const clock = simClock();
    clock.set(Date.UTC(2026, 0, 1));
    const fs = new SimFileSystem(clock);
    const r = receiver(
      () => t,
      () => 'hang',
    );
    current = await startTestSystem({
      fs,
      clock,
      fetch: r.fetch,
      random: seededRandom(7),
      config: { webhooks: [{ url: URL_A, events: ['message.sent', 'message.delivered'] }] },
    });
    const t = current;
    await t.advance(200);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++)
      void t.system.send({ to: RECIPIENTS[i]!, text: `m${i}` }).then((a) => ids.push(a.id));
    let checked = 0;
    let withEvents = 0;
    for (let step = 0; step < 120; step++) {
      await t.advance(1, 1);
      const disk = await Store.open('/data', { fs: fs.image(), lock: false, checkpointer: 'off' });
      try {
        const events = new Set(
          [...disk.map('webhookDeliveries').values()].map((d) => `${d.event.type} ${d.event.data.messageId}`),
        );
        for (const id of ids) {
          const m = disk.get('messages', id) ?? (await disk.archived(id));
          if (m?.status === 'sent' || m?.status === 'delivered')
            expect(events).toContain(`message.sent ${id}`);
          if (m?.status === 'delivered') expect(events).toContain(`message.delivered ${id}`);
        }
        withEvents += events.size;
        checked++;
      } finally {
        await disk.close();
      }
    }
    expect(checked).toBe(120);
    expect(withEvents).toBeGreaterThan(0);
  });

  it('a checkpoint written before webhooks existed loads, and its queued message gets its events', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const m = {
      id: 'old-1',
      to: RECIPIENTS[0],
      text: 'from before',
      status: 'queued',
      master: null,
      epoch: 0,
      attempts: 0,
      createdAt: Date.UTC(2026, 0, 1),
      history: [{ at: Date.UTC(2026, 0, 1), status: 'queued' }],
    };
    const collections = {
      messages: { 'old-1': m },
      idempotency: {},
      affinity: {},
      masters: {},
      failovers: {},
      meta: {},
      alerts: {},
      reports: {},
    };
    writeFileSync(
      join(dir, CHECKPOINT_FILE),
      JSON.stringify({ version: 2, journal: { next: 1, group: 0 }, collections }),
    );
    const r = receiver(() => t);
    const t = await start(
      r.fetch,
      { webhooks: [{ url: URL_A, events: ['message.sent', 'message.delivered'] }] },
      dir,
    );
    await t.advance(2_000);
    expect(r.received.map((q) => `${q.body.type} ${q.body.data.messageId}`)).toEqual([
      'message.sent old-1',
      'message.delivered old-1',
    ]);
  });

  it('events of changes made while the disk failed are delivered once it heals: "master.failed", "failover.rolledBack", the "store.unavailable" alert', async () => {
    const clock = simClock();
    clock.set(Date.UTC(2026, 0, 1));
    const fs = new SimFileSystem(clock);
    const r = receiver(() => t);
    current = await startTestSystem({
      fs,
      clock,
      fetch: r.fetch,
      random: seededRandom(11),
      store: { retryMs: { base: 200, max: 1_000 } },
      config: { webhooks: [{ url: URL_A, events: ['*'] }] },
    });
    const t = current;
    const A = t.system.masterPhones()[0]!;
    const failures: boolean[] = []; // store available when each "master.failed" was emitted
    t.system.masterRef(A)!.on('master.failed', () => failures.push(t.store.available));
    await t.advance(200);
    send(t, 30);
    t.network.inject(A, { kind: 'hang' });
    await t.advance(2_600);
    fs.fail({ op: 'sync', code: 'EIO', path: 'journal-' });
    await t.advance(6_000);
    expect(t.store.available).toBe(false);
    fs.heal();
    await t.advance(40_000);
    expect(t.store.available).toBe(true);
    expect(failures).toContain(false);
    expect(r.types('master.failed').map((q) => q.body.data.master)).toEqual(failures.map(() => A));
    expect(r.types('failover.rolledBack').map((q) => q.body.data.from)).toContain(A);
    const store = (type: string) => r.types(type).filter((q) => q.body.data.key === 'store.unavailable');
    expect(store('alert.opened')).toHaveLength(1);
    expect(store('alert.resolved')).toHaveLength(1);
    // nothing is left behind, and no event reached the receiver twice (it always answered 200)
    expect(t.system.webhooks.deliveries('pending')).toEqual([]);
    expect(new Set(r.received.map((q) => q.body.id)).size).toBe(r.received.length);
  });
});
