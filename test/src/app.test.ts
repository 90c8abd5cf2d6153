// Route tests for the HTTP API (README "HTTP API") with app.inject(): every route, its success and
// its failures, over a real switchboard (sim masters, real timers, a store in a temp dir).
import { rmSync } from 'node:fs';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SimNetwork } from '../../actors/sim.transport.ts';
import { buildApp } from '../../src/app.ts';
import { createSwitchboard, type Switchboard } from '../../src/switchboard.ts';
import { PHONES, RECIPIENTS, tempDir, testConfig } from '../support/system.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const [A, B, C] = PHONES as [string, string, string];
const enc = (phone: string) => encodeURIComponent(phone);
const TOKEN = 'test-token-0123456789';

interface Running {
  sb: Switchboard;
  app: FastifyInstance;
  dir: string;
  close(): Promise<void>;
}

async function start(options: { token?: string; masters?: number } = {}): Promise<Running> {
  const dir = tempDir();
  const sb = await createSwitchboard(testConfig(dir, options.masters ?? 3), { log, fsync: false });
  const app = await buildApp({ switchboard: sb, log, token: options.token });
  await app.ready();
  await waitFor(() => sb.getHealthyMasters().length === sb.config.masters.length, 'every master healthy');
  return {
    sb,
    app,
    dir,
    close: async () => {
      await app.close();
      await sb.stop(100);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `condition` every 20 ms for up to `timeoutMs` (real timers; no fixed sleeps). */
async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every error answer has Fastify's shape plus a stable SB_ERR_ code. */
function expectError(res: LightMyRequestResponse, statusCode: number, code?: string) {
  expect(res.statusCode, res.body).toBe(statusCode);
  const body = res.json();
  expect(body).toEqual({
    statusCode,
    error: expect.any(String),
    message: expect.any(String),
    code: expect.stringMatching(/^SB_ERR_[A-Z_]+$/),
  });
  if (code) expect(body.code).toBe(code);
  return body as { statusCode: number; error: string; message: string; code: string };
}

const json = (body: unknown) => ({
  headers: { 'content-type': 'application/json' },
  payload: JSON.stringify(body),
});

describe('the HTTP API over three healthy sim masters', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start();
  });
  afterAll(async () => {
    await r.close();
  });

  describe('health', () => {
    it('answers GET /healthz with 200 {status: "ok"}', async () => {
      const res = await r.app.inject({ method: 'GET', url: '/healthz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ status: 'ok' });
    });

    it('answers GET /readyz with 200 while a master is routable', async () => {
      const res = await r.app.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ status: 'ready', routable: 3 });
    });

    it('answers an unknown route with 404 SB_ERR_NOT_FOUND', async () => {
      const res = await r.app.inject({ method: 'GET', url: '/api/nothing-here' });
      expect(expectError(res, 404, 'SB_ERR_NOT_FOUND').message).toContain('/api/nothing-here');
    });
  });

  describe('masters', () => {
    it('lists every master with the documented fields under "masters"', async () => {
      const res = await r.app.inject({ method: 'GET', url: '/api/masters' });
      expect(res.statusCode).toBe(200);
      const { masters } = res.json();
      expect(masters.map((m: { phone: string }) => m.phone)).toEqual([A, B, C]);
      for (const m of masters) {
        expect(m).toMatchObject({
          phone: expect.stringMatching(/^\+\d+$/),
          state: 'healthy',
          priority: expect.any(Number),
          region: expect.stringMatching(/^[A-Z]{2}$/),
          weight: expect.any(Number),
          consecutiveFailures: expect.any(Number),
          recoveryAttempts: expect.any(Number),
          load: {
            inFlight: expect.any(Number),
            queued: expect.any(Number),
            completed: expect.any(Number),
            failed: expect.any(Number),
          },
          since: expect.any(String),
        });
        expect(m).toHaveProperty('detail');
        expect(Number.isNaN(Date.parse(m.since))).toBe(false);
      }
    });

    it('answers GET /api/masters/%2B971501234567 with that master', async () => {
      const res = await r.app.inject({ method: 'GET', url: `/api/masters/${enc(A)}` });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ phone: A, state: 'healthy', priority: 1, region: 'AE' });
    });

    it('normalises a master number given with spaces to E.164', async () => {
      const res = await r.app.inject({ method: 'GET', url: `/api/masters/${enc('+971 50 123 4567')}` });
      expect(res.statusCode).toBe(200);
      expect(res.json().phone).toBe(A);
    });

    it('answers a valid number that is not a master with 404 SB_ERR_UNKNOWN_MASTER', async () => {
      const res = await r.app.inject({ method: 'GET', url: `/api/masters/${enc('+447400123456')}` });
      expect(expectError(res, 404, 'SB_ERR_UNKNOWN_MASTER').message).toContain('+447400123456');
    });

    it('answers an invalid number with 400 SB_ERR_INVALID_PHONE saying why', async () => {
      const res = await r.app.inject({ method: 'GET', url: '/api/masters/971501234567' });
      expect(expectError(res, 400, 'SB_ERR_INVALID_PHONE').message).toMatch(/international format/);
      const short = await r.app.inject({ method: 'GET', url: `/api/masters/${enc('+9715')}` });
      expect(expectError(short, 400, 'SB_ERR_INVALID_PHONE').message).toMatch(/length|not a phone number/);
    });

    it('answers a broken %-escape in the path with 400 SB_ERR_BAD_URL and an over-long number with 414', async () => {
      const broken = await r.app.inject({ method: 'GET', url: '/api/masters/%E0%A4%A' });
      expectError(broken, 400, 'SB_ERR_BAD_URL');
      const brokenPost = await r.app.inject({ method: 'POST', url: '/api/masters/%zz/reset' });
      expectError(brokenPost, 400, 'SB_ERR_BAD_URL');
      const long = await r.app.inject({ method: 'GET', url: `/api/masters/${'1'.repeat(100)}` });
      expectError(long, 414, 'SB_ERR_URL_TOO_LONG');
    });

    it('answers POST reset with 202 for a master and 404 for a stranger', async () => {
      const ok = await r.app.inject({ method: 'POST', url: `/api/masters/${enc(C)}/reset` });
      expect(ok.statusCode).toBe(202);
      expect(ok.json()).toEqual({ phone: C, status: 'reset requested' });
      const unknown = await r.app.inject({ method: 'POST', url: `/api/masters/${enc(PHONES[3]!)}/reset` });
      expectError(unknown, 404, 'SB_ERR_UNKNOWN_MASTER');
      const invalid = await r.app.inject({ method: 'POST', url: '/api/masters/abc/reset' });
      expectError(invalid, 400, 'SB_ERR_INVALID_PHONE');
    });

    it('answers PUT priority with 200 and the master carrying its new priority', async () => {
      const res = await r.app.inject({
        method: 'PUT',
        url: `/api/masters/${enc(C)}/priority`,
        ...json({ priority: 7 }),
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ phone: C, priority: 7 });
      const after = await r.app.inject({ method: 'GET', url: `/api/masters/${enc(C)}` });
      expect(after.json().priority).toBe(7);
      await r.app.inject({ method: 'PUT', url: `/api/masters/${enc(C)}/priority`, ...json({ priority: 3 }) });
    });

    it('answers PUT priority with 400 SB_ERR_VALIDATION for a non-integer, a negative or a missing priority', async () => {
      for (const body of [
        { priority: 1.5 },
        { priority: 'high' },
        { priority: -1 },
        {},
        { priority: 1, x: 1 },
      ]) {
        const res = await r.app.inject({
          method: 'PUT',
          url: `/api/masters/${enc(C)}/priority`,
          ...json(body),
        });
        expect(expectError(res, 400, 'SB_ERR_VALIDATION').message).toMatch(/^body/);
      }
      const unknown = await r.app.inject({
        method: 'PUT',
        url: `/api/masters/${enc(PHONES[3]!)}/priority`,
        ...json({ priority: 2 }),
      });
      expectError(unknown, 404, 'SB_ERR_UNKNOWN_MASTER');
    });
  });

  describe('messages', () => {
    it('answers POST /api/messages with 202 {id, status} once the message is durable', async () => {
      const res = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        ...json({ to: RECIPIENTS[0], text: 'hello' }),
      });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({ id: expect.any(String), status: expect.any(String) });
    });

    it('answers the same idempotencyKey again with 200 and the same id', async () => {
      const body = { to: RECIPIENTS[1], text: 'once', idempotencyKey: 'order-42' };
      const first = await r.app.inject({ method: 'POST', url: '/api/messages', ...json(body) });
      const second = await r.app.inject({ method: 'POST', url: '/api/messages', ...json(body) });
      expect(first.statusCode).toBe(202);
      expect(second.statusCode).toBe(200);
      expect(second.json().id).toBe(first.json().id);
    });

    it('normalises the recipient to E.164', async () => {
      const res = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        ...json({ to: '+971 50 121 0002', text: 'spaced' }),
      });
      expect(res.statusCode).toBe(202);
      const got = await r.app.inject({ method: 'GET', url: `/api/messages/${res.json().id}` });
      expect(got.json().to).toBe('+971501210002');
    });

    it('answers an invalid recipient with 400 SB_ERR_INVALID_PHONE saying why', async () => {
      const cases: [string, RegExp][] = [
        ['0501234567', /international format/],
        ['+9715', /wrong length|not a phone number/],
        ['+99912345678', /not a phone number|not a valid number|wrong length/],
      ];
      for (const [to, why] of cases) {
        const res = await r.app.inject({ method: 'POST', url: '/api/messages', ...json({ to, text: 'x' }) });
        const body = expectError(res, 400, 'SB_ERR_INVALID_PHONE');
        expect(body.message).toMatch(/^to: /);
        expect(body.message).toMatch(why);
      }
    });

    it('answers a missing text, an empty text or an extra field with 400 SB_ERR_VALIDATION', async () => {
      for (const body of [
        { to: RECIPIENTS[2] },
        { to: RECIPIENTS[2], text: '' },
        { to: RECIPIENTS[2], text: 'x', priority: 'urgent' },
        { text: 'x' },
        [],
        'just a string',
      ]) {
        const res = await r.app.inject({ method: 'POST', url: '/api/messages', ...json(body) });
        expect(expectError(res, 400, 'SB_ERR_VALIDATION').message).toMatch(/^body/);
      }
      const notObject = await r.app.inject({ method: 'POST', url: '/api/messages', ...json([]) });
      expect(notObject.json().message).toBe('body: must be object');
      const missing = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        ...json({ to: RECIPIENTS[2] }),
      });
      expect(missing.json().message).toMatch(/text/);
    });

    it('answers malformed JSON and an empty JSON body with 400 SB_ERR_VALIDATION', async () => {
      const bad = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        headers: { 'content-type': 'application/json' },
        payload: '{"to": ',
      });
      expectError(bad, 400, 'SB_ERR_VALIDATION');
      const empty = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        headers: { 'content-type': 'application/json' },
        payload: '',
      });
      expectError(empty, 400, 'SB_ERR_VALIDATION');
    });

    it('answers a body over the 64 KiB limit with 413 SB_ERR_BODY_TOO_LARGE', async () => {
      const res = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        ...json({ to: RECIPIENTS[3], text: 'x'.repeat(70 * 1024) }),
      });
      expectError(res, 413, 'SB_ERR_BODY_TOO_LARGE');
    });

    it('answers a body that is not JSON with 415 SB_ERR_UNSUPPORTED_MEDIA_TYPE', async () => {
      const res = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        headers: { 'content-type': 'text/plain' },
        payload: `to=${RECIPIENTS[3]}&text=hi`,
      });
      expectError(res, 415, 'SB_ERR_UNSUPPORTED_MEDIA_TYPE');
      const form = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: `to=${RECIPIENTS[3]}&text=hi`,
      });
      expectError(form, 415, 'SB_ERR_UNSUPPORTED_MEDIA_TYPE');
    });

    it('answers GET /api/messages/:id with the message and its history, and 404 for an unknown id', async () => {
      const sent = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        ...json({ to: RECIPIENTS[4], text: 'track me' }),
      });
      const id = sent.json().id as string;
      // the sim's delivery receipt follows the send by one latency: wait for the end of the story
      await waitFor(
        async () => (await r.sb.getMessage(id))?.status === 'delivered',
        `message ${id} delivered`,
      );
      const res = await r.app.inject({ method: 'GET', url: `/api/messages/${id}` });
      expect(res.statusCode).toBe(200);
      const m = res.json();
      expect(m).toMatchObject({
        id,
        to: RECIPIENTS[4],
        text: 'track me',
        status: 'delivered',
        master: expect.stringMatching(/^\+/),
        attempts: expect.any(Number),
        createdAt: expect.any(String),
        sentAt: expect.any(String),
      });
      expect(m.history[0]).toMatchObject({ at: expect.any(String), status: 'queued' });
      expect(m.history.map((h: { status: string }) => h.status)).toEqual([
        'queued',
        'assigned',
        'sending',
        'sent',
        'delivered',
      ]);
      expect(m.history.at(-1)).toMatchObject({ status: 'delivered', master: m.master });

      const unknown = await r.app.inject({ method: 'GET', url: '/api/messages/no-such-id' });
      expect(expectError(unknown, 404, 'SB_ERR_UNKNOWN_MESSAGE').message).toContain('no-such-id');
    });

    it('lists messages newest first with counts, filtered by status, master and limit', async () => {
      const all = await r.app.inject({ method: 'GET', url: '/api/messages' });
      expect(all.statusCode).toBe(200);
      const { messages, counts } = all.json();
      expect(Object.keys(counts).sort()).toEqual(
        ['assigned', 'delivered', 'failed', 'queued', 'read', 'sending', 'sent', 'unknown'].sort(),
      );
      const total = Object.values(counts as Record<string, number>).reduce((a, b) => a + b, 0);
      expect(messages).toHaveLength(total);
      const created = messages.map((m: { createdAt: string }) => Date.parse(m.createdAt));
      expect(created).toEqual([...created].sort((a, b) => b - a));

      const one = await r.app.inject({ method: 'GET', url: '/api/messages?limit=1' });
      expect(one.json().messages).toHaveLength(1);
      expect(one.json().counts).toEqual(counts);

      const sent = await r.app.inject({ method: 'GET', url: '/api/messages?status=sent' });
      for (const m of sent.json().messages) expect(m.status).toBe('sent');

      const master = messages[0].master as string;
      const byMaster = await r.app.inject({ method: 'GET', url: `/api/messages?master=${enc(master)}` });
      expect(byMaster.statusCode).toBe(200);
      expect(byMaster.json().messages.length).toBeGreaterThan(0);
      for (const m of byMaster.json().messages) expect(m.master).toBe(master);
    });

    it('answers a bad status, limit, master or unknown filter with 400', async () => {
      const status = await r.app.inject({ method: 'GET', url: '/api/messages?status=lost' });
      const statusError = expectError(status, 400, 'SB_ERR_VALIDATION');
      expect(statusError.message).toMatch(/^querystring: status/);
      expect(statusError.message).toContain('queued, assigned, sending, sent');
      for (const limit of ['0', '10001', 'ten', '1.5', '-3']) {
        const res = await r.app.inject({ method: 'GET', url: `/api/messages?limit=${limit}` });
        expectError(res, 400, 'SB_ERR_VALIDATION');
      }
      const master = await r.app.inject({ method: 'GET', url: '/api/messages?master=nobody' });
      expectError(master, 400, 'SB_ERR_INVALID_PHONE');
      const stranger = await r.app.inject({ method: 'GET', url: `/api/messages?master=${enc(PHONES[4]!)}` });
      expectError(stranger, 404, 'SB_ERR_UNKNOWN_MASTER');
      const extra = await r.app.inject({ method: 'GET', url: '/api/messages?order=asc' });
      expectError(extra, 400, 'SB_ERR_VALIDATION');
    });

    it('accepts a limit of 10,000', async () => {
      const res = await r.app.inject({ method: 'GET', url: '/api/messages?limit=10000' });
      expect(res.statusCode).toBe(200);
    });
  });

  describe('balancer', () => {
    it('answers GET /api/balancer with strategy, strategies, affinity, distribution and quality', async () => {
      const res = await r.app.inject({ method: 'GET', url: '/api/balancer' });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body).toMatchObject({
        strategy: 'round-robin',
        strategies: expect.arrayContaining(['round-robin']),
        affinity: true,
        quality: expect.any(Number),
      });
      expect(body.distribution.map((d: { phone: string }) => d.phone).sort()).toEqual([A, B, C].sort());
      for (const d of body.distribution) {
        expect(d).toMatchObject({
          phone: expect.any(String),
          share: expect.any(Number),
          inFlight: expect.any(Number),
          completed: expect.any(Number),
          failed: expect.any(Number),
        });
        expect(d).toHaveProperty('avgLatencyMs');
      }
    });

    it('answers PUT /api/balancer/strategy with 200 and switches every valid strategy', async () => {
      const names = (await r.app.inject({ method: 'GET', url: '/api/balancer' })).json()
        .strategies as string[];
      expect(names.length).toBeGreaterThan(1);
      for (const strategy of [...names.filter((n) => n !== 'round-robin'), 'round-robin']) {
        const res = await r.app.inject({
          method: 'PUT',
          url: '/api/balancer/strategy',
          ...json({ strategy }),
        });
        expect(res.statusCode).toBe(200);
        expect(res.json()).toEqual({ strategy, strategies: names });
        await waitFor(() => r.sb.getLoadDistribution().strategy === strategy, `strategy ${strategy}`);
      }
    });

    it('answers an unknown strategy with 400 SB_ERR_UNKNOWN_STRATEGY whose message lists the valid names', async () => {
      const res = await r.app.inject({
        method: 'PUT',
        url: '/api/balancer/strategy',
        ...json({ strategy: 'fastest' }),
      });
      const body = expectError(res, 400, 'SB_ERR_UNKNOWN_STRATEGY');
      for (const name of r.sb.getAvailableStrategies()) expect(body.message).toContain(name);
      const missing = await r.app.inject({ method: 'PUT', url: '/api/balancer/strategy', ...json({}) });
      expectError(missing, 400, 'SB_ERR_VALIDATION');
    });
  });

  describe('failover', () => {
    it('answers POST failover with 404 or 409 for a bad "to" and starts nothing', async () => {
      const before = r.sb.getFailovers().length;
      const unknown = await r.app.inject({
        method: 'POST',
        url: `/api/masters/${enc(A)}/failover`,
        ...json({ to: PHONES[3] }),
      });
      expectError(unknown, 404, 'SB_ERR_UNKNOWN_MASTER');
      const self = await r.app.inject({
        method: 'POST',
        url: `/api/masters/${enc(A)}/failover`,
        ...json({ to: A }),
      });
      expect(expectError(self, 409, 'SB_ERR_NO_BACKUP').message).toMatch(/itself/);
      const invalid = await r.app.inject({
        method: 'POST',
        url: `/api/masters/${enc(A)}/failover`,
        ...json({ to: 'B' }),
      });
      expectError(invalid, 400, 'SB_ERR_INVALID_PHONE');
      const extra = await r.app.inject({
        method: 'POST',
        url: `/api/masters/${enc(A)}/failover`,
        ...json({ to: B, now: true }),
      });
      expectError(extra, 400, 'SB_ERR_VALIDATION');
      const stranger = await r.app.inject({
        method: 'POST',
        url: `/api/masters/${enc(PHONES[4]!)}/failover`,
      });
      expectError(stranger, 404, 'SB_ERR_UNKNOWN_MASTER');
      expect(r.sb.getFailovers()).toHaveLength(before);
    });

    it('answers POST failover with "to" with 202 {failoverId}, and GET /api/failovers shows it', async () => {
      const res = await r.app.inject({
        method: 'POST',
        url: `/api/masters/${enc(A)}/failover`,
        ...json({ to: B }),
      });
      expect(res.statusCode).toBe(202);
      const { failoverId } = res.json();
      expect(failoverId).toEqual(expect.any(String));
      await waitFor(
        () => r.sb.getFailovers().some((f) => f.id === failoverId && f.completedAt !== undefined),
        `failover ${failoverId} completed`,
      );
      const list = await r.app.inject({ method: 'GET', url: '/api/failovers' });
      expect(list.statusCode).toBe(200);
      const f = list.json().failovers.find((x: { id: string }) => x.id === failoverId);
      expect(f).toMatchObject({
        id: failoverId,
        from: A,
        to: B,
        reason: 'manual failover',
        status: 'completed',
        completedAt: expect.any(String),
        startedAt: expect.any(String),
        moved: { messages: expect.any(Number), contacts: expect.any(Number) },
      });
    });

    it('answers POST failover without a body with 202 and picks a backup itself', async () => {
      // wait until the previous incident is closed, or this one would be refused as already running
      await waitFor(
        () => r.sb.getFailovers().every((f) => f.completedAt !== undefined),
        'earlier failovers completed',
      );
      const res = await r.app.inject({ method: 'POST', url: `/api/masters/${enc(C)}/failover` });
      expect(res.statusCode).toBe(202);
      const { failoverId } = res.json();
      await waitFor(
        () => r.sb.getFailovers().some((f) => f.id === failoverId && f.completedAt !== undefined),
        `failover ${failoverId} completed`,
      );
      const list = (await r.app.inject({ method: 'GET', url: '/api/failovers' })).json().failovers;
      const f = list.find((x: { id: string }) => x.id === failoverId);
      expect(f).toMatchObject({ from: C, status: 'completed', completedAt: expect.any(String) });
      expect([A, B]).toContain(f.to);
    });
  });

  describe('simulated masters', () => {
    it('answers POST /api/sim/masters/:phone/fault with 200 and the fault taking effect', async () => {
      const res = await r.app.inject({
        method: 'POST',
        url: `/api/sim/masters/${enc(C)}/fault`,
        ...json({ kind: 'disconnect' }),
      });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual({ phone: C, fault: 'disconnect' });
      await waitFor(() => r.sb.getMasterStatus(C).state !== 'healthy', `${C} leaves "healthy"`);
      const heal = await r.app.inject({
        method: 'POST',
        url: `/api/sim/masters/${enc(C)}/fault`,
        ...json({ kind: 'heal' }),
      });
      expect(heal.statusCode).toBe(200);
      r.sb.manualReset(C);
      await waitFor(() => r.sb.getMasterStatus(C).state === 'healthy', `${C} healthy again`, 10_000);
    });

    it('answers a fault with a bad kind, bad fields, an invalid or unknown number with 400 or 404', async () => {
      const url = `/api/sim/masters/${enc(C)}/fault`;
      for (const body of [
        { kind: 'explode' },
        {},
        { kind: 'slow', latencyMs: -1 },
        { kind: 'flaky', errorRate: 2 },
      ]) {
        const res = await r.app.inject({ method: 'POST', url, ...json(body) });
        expectError(res, 400, 'SB_ERR_VALIDATION');
      }
      const kind = await r.app.inject({ method: 'POST', url, ...json({ kind: 'explode' }) });
      expect(kind.json().message).toBe(
        'body: kind must be equal to one of the allowed values: disconnect, hang, slow, flaky, logout, no-ack, heal',
      );
      const invalid = await r.app.inject({
        method: 'POST',
        url: '/api/sim/masters/x/fault',
        ...json({ kind: 'heal' }),
      });
      expectError(invalid, 400, 'SB_ERR_INVALID_PHONE');
      const stranger = await r.app.inject({
        method: 'POST',
        url: `/api/sim/masters/${enc(PHONES[3]!)}/fault`,
        ...json({ kind: 'heal' }),
      });
      expectError(stranger, 404, 'SB_ERR_UNKNOWN_MASTER');
    });

    it('lists every accepted send under GET /api/sim/sends', async () => {
      const sent = await r.app.inject({
        method: 'POST',
        url: '/api/messages',
        ...json({ to: RECIPIENTS[5], text: 'counted' }),
      });
      const id = sent.json().id as string;
      await waitFor(
        async () => ['sent', 'delivered'].includes((await r.sb.getMessage(id))?.status ?? ''),
        `message ${id} sent`,
      );
      const res = await r.app.inject({ method: 'GET', url: '/api/sim/sends' });
      expect(res.statusCode).toBe(200);
      const { sends } = res.json();
      expect(sends.length).toBe(r.sb.simSends().length);
      const mine = sends.filter((s: { messageId: string }) => s.messageId === id);
      expect(mine).toEqual([
        {
          messageId: id,
          master: (await r.sb.getMessage(id))?.master,
          to: RECIPIENTS[5],
          at: expect.any(String),
        },
      ]);
      expect(Number.isNaN(Date.parse(mine[0].at))).toBe(false);
    });
  });
});

describe('GET /readyz when no master is routable', () => {
  let r: Running;
  beforeEach(async () => {
    r = await start();
  });
  afterEach(async () => {
    await r.close();
  });

  it('answers 503 SB_ERR_NOT_READY once every master is logged out, and 200 again after heal and reset', async () => {
    for (const phone of [A, B, C]) {
      const res = await r.app.inject({
        method: 'POST',
        url: `/api/sim/masters/${enc(phone)}/fault`,
        ...json({ kind: 'logout' }),
      });
      expect(res.statusCode).toBe(200);
    }
    await waitFor(() => !r.sb.isReady(), 'no master routable');
    const down = await r.app.inject({ method: 'GET', url: '/readyz' });
    expect(expectError(down, 503, 'SB_ERR_NOT_READY').message).toMatch(/no master is routable/);
    // liveness is not readiness: the process still serves
    expect((await r.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

    await r.app.inject({
      method: 'POST',
      url: `/api/sim/masters/${enc(B)}/fault`,
      ...json({ kind: 'heal' }),
    });
    expect((await r.app.inject({ method: 'POST', url: `/api/masters/${enc(B)}/reset` })).statusCode).toBe(
      202,
    );
    await waitFor(() => r.sb.isReady(), 'a master routable again', 10_000);
    const up = await r.app.inject({ method: 'GET', url: '/readyz' });
    expect(up.statusCode).toBe(200);
  });
});

describe('the HTTP API with a token', () => {
  let r: Running;
  beforeAll(async () => {
    r = await start({ token: TOKEN });
  });
  afterAll(async () => {
    await r.close();
  });

  const mutating = (): InjectOptions[] => [
    { method: 'POST', url: `/api/masters/${enc(A)}/reset` },
    { method: 'POST', url: `/api/masters/${enc(A)}/failover`, ...json({ to: B }) },
    { method: 'PUT', url: `/api/masters/${enc(A)}/priority`, ...json({ priority: 1 }) },
    { method: 'POST', url: '/api/messages', ...json({ to: RECIPIENTS[6], text: 'auth' }) },
    { method: 'PUT', url: '/api/balancer/strategy', ...json({ strategy: 'round-robin' }) },
    { method: 'POST', url: `/api/sim/masters/${enc(A)}/fault`, ...json({ kind: 'heal' }) },
  ];

  it('answers every mutating route without Authorization with 401 SB_ERR_UNAUTHORIZED', async () => {
    for (const req of mutating()) {
      const res = await r.app.inject(req);
      expectError(res, 401, 'SB_ERR_UNAUTHORIZED');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    expect(r.sb.getFailovers()).toHaveLength(0);
    expect(r.sb.listMessages().messages).toHaveLength(0);
  });

  it('answers a wrong token, a token without "Bearer " and other schemes with 401', async () => {
    for (const authorization of [
      'Bearer wrong',
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      TOKEN,
      `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`,
      `bearer${TOKEN}`,
      'Bearer ',
    ]) {
      for (const req of mutating()) {
        const res = await r.app.inject({ ...req, headers: { ...req.headers, authorization } });
        expectError(res, 401, 'SB_ERR_UNAUTHORIZED');
      }
    }
    expect(r.sb.listMessages().messages).toHaveLength(0);
  });

  it('checks the token before the body, so an anonymous caller learns nothing from validation', async () => {
    const res = await r.app.inject({ method: 'POST', url: '/api/messages', ...json({ nonsense: true }) });
    expectError(res, 401, 'SB_ERR_UNAUTHORIZED');
  });

  it('keeps only /healthz and /readyz open without a token; reads answer 401 without it and 200 with it', async () => {
    for (const url of ['/healthz', '/readyz']) {
      const res = await r.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(200);
    }
    for (const url of [
      '/api/masters',
      `/api/masters/${enc(A)}`,
      '/api/messages',
      '/api/balancer',
      '/api/failovers',
      '/api/sim/sends',
    ]) {
      expectError(await r.app.inject({ method: 'GET', url }), 401, 'SB_ERR_UNAUTHORIZED');
      const res = await r.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}` } });
      expect(res.statusCode, url).toBe(200);
    }
  });

  it('lets every mutating route through with the right token', async () => {
    const authorization = `Bearer ${TOKEN}`;
    const expected = [202, 202, 200, 202, 200, 200];
    const got: number[] = [];
    for (const req of mutating()) {
      const res = await r.app.inject({ ...req, headers: { ...req.headers, authorization } });
      got.push(res.statusCode);
    }
    expect(got).toEqual(expected);
  });
});

describe('a fleet without simulated masters', () => {
  let r: Running;
  beforeAll(async () => {
    // A "baileys" master needs a transport from outside; a detached sim network's account serves
    // as one, so the service runs with no sim master while every master still connects.
    const dir = tempDir();
    const base = testConfig(dir, 2);
    const config = { ...base, masters: base.masters.map((m) => ({ ...m, transport: 'baileys' as const })) };
    const outside = new SimNetwork({ latencyMs: 5 });
    const transports = new Map(config.masters.map((m) => [m.phone, outside.account(m.phone)] as const));
    const sb = await createSwitchboard(config, { log, fsync: false, transports });
    const app = await buildApp({ switchboard: sb, log });
    await app.ready();
    await waitFor(() => sb.getHealthyMasters().length === 2, 'both masters healthy');
    r = {
      sb,
      app,
      dir,
      close: async () => {
        await app.close();
        await sb.stop(100);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
  afterAll(async () => {
    await r.close();
  });

  it('has no sim routes: fault injection and the sends list answer 404', async () => {
    expect(r.sb.hasSimMasters).toBe(false);
    const fault = await r.app.inject({
      method: 'POST',
      url: `/api/sim/masters/${enc(A)}/fault`,
      ...json({ kind: 'logout' }),
    });
    expectError(fault, 404, 'SB_ERR_NOT_FOUND');
    const sends = await r.app.inject({ method: 'GET', url: '/api/sim/sends' });
    expectError(sends, 404, 'SB_ERR_NOT_FOUND');
    expect(r.sb.getHealthyMasters()).toHaveLength(2);
  });

  it('still serves the rest of the API', async () => {
    const masters = await r.app.inject({ method: 'GET', url: '/api/masters' });
    expect(masters.statusCode).toBe(200);
    expect(masters.json().masters.map((m: { transport: string }) => m.transport)).toEqual([
      'baileys',
      'baileys',
    ]);
    expect((await r.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
  });
});
