// Webhooks against a real receiver (node:http on 127.0.0.1) in real time: events arrive signed and in
// order per message; a receiver that fails then recovers gets every event, duplicates only by retry;
// a receiver that times out does not slow dispatch, and what it never took is parked; and an event recorded before a SIGKILL is
// delivered after the restart.
import { rmSync } from 'node:fs';
import pino from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConfigInput, parseConfig } from '../../src/config.ts';
import { seededRandom } from '../../src/routing/random.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { type ServiceProcess, startService, writeConfig } from '../support/service.ts';
import { PHONES, RECIPIENTS, tempDir } from '../support/system.ts';
import { until } from '../support/wait.ts';
import { type ReceivedRequest, type Receiver, startReceiver } from '../support/webhook-receiver.ts';

const SECRET = `whsec_${Buffer.from('0123456789abcdef0123456789abcdef').toString('base64')}`;
const TOKEN = 'webhook-test-token';
const MASTERS = PHONES.slice(0, 3);

let server: RunningServer | undefined;
let service: ServiceProcess | undefined;
let receiver: Receiver | undefined;
const dirs: string[] = [];

afterEach(async () => {
  await server?.close();
  await service?.stop('SIGKILL');
  await receiver?.close();
  server = undefined;
  service = undefined;
  receiver = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function baseConfig(dir: string, extra: Partial<ConfigInput> = {}): ConfigInput {
  return {
    masters: MASTERS.map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 100_000 })),
    health: { intervalMs: 200, timeoutMs: 150, failureThreshold: 3, recoveryThreshold: 2 },
    recovery: { timeoutMs: 500, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 400 },
    sim: { latencyMs: 10 },
    http: { port: 0 },
    dataDir: dir,
    ...extra,
  };
}

async function serve(extra: Partial<ConfigInput> = {}): Promise<RunningServer> {
  const dir = tempDir();
  dirs.push(dir);
  server = await startServer({
    config: parseConfig(baseConfig(dir, extra)),
    token: TOKEN,
    log: pino({ level: process.env.TEST_LOG ?? 'silent' }),
    graceMs: 100,
  });
  await until('ready', async () => (await api('/readyz')).status === 200);
  return server;
}

async function api<T = unknown>(
  path: string,
  init: RequestInit & { json?: unknown; token?: string | null } = {},
): Promise<{ status: number; body: T }> {
  const base = server?.url ?? service!.url;
  const headers: Record<string, string> = {};
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers,
    ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as T };
}

async function sendMessages(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const res = await api<{ id: string }>('/api/messages', {
      method: 'POST',
      json: { to: RECIPIENTS[i % RECIPIENTS.length], text: `private ${i}` },
    });
    expect(res.status).toBe(202);
    ids.push(res.body.id);
  }
  return ids;
}

/** Event ids answered 2xx, and every request, by message id. */
function byMessage(received: readonly ReceivedRequest[]): Map<string, ReceivedRequest[]> {
  const map = new Map<string, ReceivedRequest[]>();
  for (const r of received) {
    const id = r.body.data.messageId as string;
    map.set(id, [...(map.get(id) ?? []), r]);
  }
  return map;
}

const ok = (r: ReceivedRequest) => r.status !== null && r.status >= 200 && r.status < 300;

describe('webhooks end to end', () => {
  it('routes add, list and remove webhooks (token-guarded, bad input named); events arrive signed and in order per message', async () => {
    // receiver delays from a seeded PRNG, so the run's timing pattern is the same every time
    const random = seededRandom(14);
    receiver = await startReceiver(() => ({ status: 200, delayMs: Math.floor(random() * 30) }));
    await serve();
    // guarded, validated, naming the field
    expect((await api('/api/webhooks', { token: null })).status).toBe(401);
    const badUrl = await api<{ message: string }>('/api/webhooks', {
      method: 'POST',
      json: { url: 'ftp://x', events: ['message.sent'] },
    });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.message).toMatch(/^url: /);
    const badEvent = await api<{ message: string }>('/api/webhooks', {
      method: 'POST',
      json: { url: receiver.url, events: ['message.sent', 'message.exploded'] },
    });
    expect(badEvent.status).toBe(400);
    expect(badEvent.body.message).toMatch(/^events\[1\]: /);
    const badSecret = await api<{ message: string }>('/api/webhooks', {
      method: 'POST',
      json: { url: receiver.url, events: ['*'], secret: 'hunter2' },
    });
    expect(badSecret.status).toBe(400);
    expect(badSecret.body.message).toMatch(/^secret: /);

    const added = await api<{ id: string; signed: boolean; source: string }>('/api/webhooks', {
      method: 'POST',
      json: { url: receiver.url, events: ['message.sent', 'message.delivered'], secret: SECRET },
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ signed: true, source: 'api' });
    expect(JSON.stringify(added.body)).not.toContain(SECRET);
    const listed = await api<{ webhooks: { id: string }[] }>('/api/webhooks');
    expect(listed.body.webhooks.map((w) => w.id)).toEqual([added.body.id]);

    const ids = await sendMessages(20);
    await until('sent and delivered events of all 20 messages', () => {
      const m = byMessage(receiver!.received.filter(ok));
      return ids.every((id) => m.get(id)?.length === 2);
    });
    const verifier = new Webhook(SECRET);
    for (const r of receiver.received) {
      expect(verifier.verify(r.raw, r.headers as Record<string, string>)).toEqual(r.body);
      expect(r.raw).not.toContain('private');
    }
    for (const id of ids)
      expect(
        byMessage(receiver.received)
          .get(id)!
          .map((r) => r.body.type),
      ).toEqual(['message.sent', 'message.delivered']);

    const removed = await api<{ id: string }>(`/api/webhooks/${added.body.id}`, { method: 'DELETE' });
    expect(removed.status).toBe(200);
    expect((await api<{ webhooks: unknown[] }>('/api/webhooks')).body.webhooks).toEqual([]);
    expect((await api(`/api/webhooks/${added.body.id}`, { method: 'DELETE' })).status).toBe(404);
  });

  it('a receiver that fails for a while then recovers gets every event; duplicates only by retry, recognisable by event id', async () => {
    let failing = true;
    receiver = await startReceiver(() => (failing ? { status: 503 } : { status: 200 }));
    await serve({
      webhooks: [{ url: receiver.url, events: ['*'], secret: SECRET }],
      webhookDelivery: { backoffBaseMs: 50, backoffMaxMs: 300, maxAttempts: 100 },
    });
    const ids = await sendMessages(30);
    await until('some failed attempts', () => receiver!.received.length >= 20);
    failing = false;
    await until('every message event delivered', () => {
      const m = byMessage(receiver!.received.filter((r) => ok(r) && r.body.type.startsWith('message.')));
      return ids.every((id) => m.get(id)?.length === 2);
    });
    await until('an empty queue', async () => {
      const { body } = await api<{ webhooks: { pending: number }[] }>('/api/webhooks');
      return body.webhooks[0]!.pending === 0;
    });
    // a webhook of the config file is removed by editing the file
    const [configured] = (await api<{ webhooks: { id: string; source: string }[] }>('/api/webhooks')).body
      .webhooks;
    expect(configured).toMatchObject({ source: 'config', signed: true });
    const refused = await api<{ code: string }>(`/api/webhooks/${configured!.id}`, { method: 'DELETE' });
    expect(refused.status).toBe(409);
    const attempts = new Map<string, ReceivedRequest[]>();
    for (const r of receiver.received) attempts.set(r.body.id, [...(attempts.get(r.body.id) ?? []), r]);
    for (const [, tries] of attempts) {
      // every event answered 2xx exactly once, each earlier try answered 503
      expect(tries.filter(ok)).toHaveLength(1);
      expect(tries.slice(0, -1).every((r) => r.status === 503)).toBe(true);
      expect(ok(tries.at(-1)!)).toBe(true);
      expect(new Set(tries.map((r) => r.raw)).size).toBe(1); // a retry is the same event, body and id
    }
    expect([...attempts.values()].some((tries) => tries.length > 1)).toBe(true);
    const res = await fetch(`${server!.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const failed = /switchboard_webhook_attempts_total\{webhook="[^"]+",outcome="failed"\} (\d+)/.exec(
      await res.text(),
    );
    expect(Number(failed?.[1])).toBe(receiver.received.filter((r) => r.status === 503).length);
  });

  it('a receiver that times out does not slow message dispatch (at most 4 requests open); events it never took are parked, visible, and can be retried', async () => {
    receiver = await startReceiver(() => 'hang');
    await serve({
      webhooks: [{ url: receiver.url, events: ['message.sent'] }],
      webhookDelivery: {
        timeoutMs: 300,
        maxAttempts: 2,
        backoffBaseMs: 100,
        backoffMaxMs: 200,
        concurrency: 4,
      },
    });
    const allSent = async () => {
      const { body } = await api<{ counts: { queued: number; assigned: number; sending: number } }>(
        '/api/messages?limit=1',
      );
      return body.counts.queued + body.counts.assigned + body.counts.sending === 0;
    };
    // three rounds of 20 while the receiver's requests time out one after the other
    let maxInFlight = 0;
    const sampler = setInterval(() => {
      maxInFlight = Math.max(maxInFlight, server!.switchboard.system.webhookDelivery.inFlight());
    }, 5);
    await sendMessages(5); // warm-up: the first requests of a process are slow
    await until('the warm-up sent', allSent, 10_000);
    const rounds: number[] = [];
    for (let round = 0; round < 3; round++) {
      const started = Date.now();
      await sendMessages(20);
      await until('the round sent', allSent, 10_000);
      rounds.push(Date.now() - started);
      await new Promise((r) => setTimeout(r, 400));
    }
    const metrics = async () => {
      const res = await fetch(`${server!.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return res.text();
    };
    const failed = /switchboard_webhook_attempts_total\{webhook="[^"]+",outcome="failed"\} (\d+)/.exec(
      await metrics(),
    );
    expect(Number(failed?.[1])).toBeGreaterThanOrEqual(4); // timeouts happened during the rounds
    // each round of 20 went out in well under one webhook timeout per message in sequence (20 x 300 ms)
    // ~200 ms a round here; a dispatcher that waited for the receiver would need at least two waves of
    // 12 sends (3 masters x 4) x 2 timed-out attempts of 300 ms each: over 1.2 s
    for (const ms of rounds) expect(ms).toBeLessThan(1_000);
    clearInterval(sampler);
    expect(maxInFlight).toBe(4);
    // the receiver may see a 5th for a moment: an aborted request's socket closes on its side a little later
    expect(receiver.maxOpen()).toBeGreaterThanOrEqual(4);
    expect(receiver.maxOpen()).toBeLessThanOrEqual(8);

    const parked = await until('parked events', async () => {
      const { body } = await api<{ deliveries: { id: string; attempts: number; lastError: string }[] }>(
        '/api/webhooks/parked',
      );
      return body.deliveries.length > 0 && body.deliveries;
    });
    expect(parked[0]).toMatchObject({
      attempts: 2,
      lastError: expect.stringMatching(/timed out after 300 ms/),
    });
    receiver.setAnswer(() => ({ status: 200 }));
    const retried = await api<{ state: string; attempts: number }>(
      `/api/webhooks/parked/${parked[0]!.id}/retry`,
      {
        method: 'POST',
      },
    );
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ state: 'pending', attempts: 0 });
    await until('the retried event answered 200', () => receiver!.received.some((r) => r.status === 200));
    expect((await api(`/api/webhooks/parked/${parked[0]!.id}/retry`, { method: 'POST' })).status).toBe(404);
    expect(await metrics()).toMatch(
      /switchboard_webhook_queue\{webhook="cfg_[0-9a-f]{12}",state="parked"\} \d+/,
    );
  });

  it('an event recorded before a SIGKILL is delivered after the restart', async () => {
    let up = false;
    receiver = await startReceiver(() => (up ? { status: 200 } : { status: 503 }));
    const dir = tempDir();
    dirs.push(dir);
    const config = writeConfig(dir, {
      ...baseConfig(dir),
      http: undefined,
      dataDir: undefined,
      webhooks: [{ url: receiver.url, events: ['message.sent', 'message.delivered'], secret: SECRET }],
      webhookDelivery: { backoffBaseMs: 50, backoffMaxMs: 200, maxAttempts: 100 },
    });
    const args = ['--config', config, '--port', '0', '--data-dir', dir];
    const env = { SWITCHBOARD_TOKEN: TOKEN };
    service = await startService(args, env);
    await until('ready', async () => (await api('/readyz')).status === 200);
    const ids = await sendMessages(5);
    // each message's "sent" event reached the receiver (so it was on disk) and was refused
    await until('five refused "message.sent" events', () => {
      const m = byMessage(receiver!.received.filter((r) => r.body.type === 'message.sent'));
      return ids.every((id) => m.has(id));
    });
    const before = new Set(receiver.received.map((r) => r.body.id));
    expect(receiver.received.some(ok)).toBe(false);
    await service.stop('SIGKILL');
    up = true;
    service = await startService(args, env);
    await until('every event delivered after the restart', () => {
      const m = byMessage(receiver!.received.filter(ok));
      return ids.every((id) => m.get(id)?.length === 2);
    });
    const delivered = new Set(receiver.received.filter(ok).map((r) => r.body.id));
    for (const id of before) expect(delivered.has(id)).toBe(true);
  });
});
