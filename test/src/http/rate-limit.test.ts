// The write rate limit (config http.rateLimit): 429 SB_ERR_RATE_LIMITED per client past the limit,
// reads never counted, loopback not counted by default (the CLI, load tests and benchmarks run there),
// off with `false` or `enabled: false`, and behind a trusted proxy the forwarded client is counted.
import { rmSync } from 'node:fs';
import type { FastifyInstance, InjectOptions } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.ts';
import { type Config, parseConfig } from '../../../src/config.ts';
import { createSwitchboard, type Switchboard } from '../../../src/switchboard.ts';
import { RECIPIENTS, tempDir, testConfig } from '../../support/system.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const TOKEN = 'rate-token-0123456789';
const REMOTE = '192.0.2.10';

let sb: Switchboard;
let dir: string;
const open: FastifyInstance[] = [];

beforeAll(async () => {
  dir = tempDir();
  sb = await createSwitchboard(testConfig(dir, 1), { log, fsync: false });
});

afterAll(async () => {
  for (const app of open) await app.close();
  await sb?.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

/** An app whose http section is the config's default with `http` laid over it. */
async function appWith(http: Record<string, unknown> = {}, token?: string): Promise<FastifyInstance> {
  const parsed: Config['http'] = parseConfig({ http }).http;
  const app = await buildApp({ switchboard: sb, log, token, http: parsed });
  await app.ready();
  open.push(app);
  return app;
}

/** A write that is cheap to answer (400: no body) but counts like any other: the limit runs before validation. */
const write = (remoteAddress = REMOTE, headers: Record<string, string> = {}): InjectOptions => ({
  method: 'POST',
  url: '/api/messages',
  remoteAddress,
  headers,
});

async function statuses(app: FastifyInstance, req: InjectOptions, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await app.inject(req)).statusCode);
  return out;
}

describe('the write rate limit', () => {
  it('answers the write past the limit with 429 SB_ERR_RATE_LIMITED in our shape, with Retry-After', async () => {
    const app = await appWith({ rateLimit: { max: 3, timeWindowMs: 60_000 } });
    const json = { 'content-type': 'application/json' };
    for (let i = 0; i < 3; i++) {
      const res = await app.inject({
        ...write(REMOTE, json),
        payload: JSON.stringify({ to: RECIPIENTS[i], text: 'counted' }),
      });
      expect(res.statusCode).toBe(202);
      expect(res.headers['x-ratelimit-limit']).toBe('3');
    }
    const res = await app.inject({
      ...write(REMOTE, json),
      payload: JSON.stringify({ to: RECIPIENTS[3], text: 'one too many' }),
    });
    expect(res.statusCode).toBe(429);
    expect(res.json()).toEqual({
      statusCode: 429,
      error: 'Too Many Requests',
      message: expect.stringMatching(/at most 3 per 60 s/),
      code: 'SB_ERR_RATE_LIMITED',
    });
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(sb.listMessages().messages.some((m) => m.text === 'one too many')).toBe(false);
  });

  it('counts each client address apart, and never counts reads', async () => {
    const app = await appWith({ rateLimit: { max: 2 } });
    expect(await statuses(app, write(REMOTE), 3)).toEqual([400, 400, 429]);
    expect(await statuses(app, write('198.51.100.7'), 3)).toEqual([400, 400, 429]);
    const reads = await statuses(app, { method: 'GET', url: '/api/masters', remoteAddress: REMOTE }, 10);
    expect(reads.every((s) => s === 200)).toBe(true);
  });

  it('counts only requests that got past the token check: anonymous 401s do not use up a client budget', async () => {
    const app = await appWith({ rateLimit: { max: 2 } }, TOKEN);
    expect(await statuses(app, write(REMOTE), 5)).toEqual([401, 401, 401, 401, 401]);
    const authorized = write(REMOTE, { authorization: `Bearer ${TOKEN}` });
    expect(await statuses(app, authorized, 3)).toEqual([400, 400, 429]);
  });

  it('is off with rateLimit false and with enabled false', async () => {
    for (const rateLimit of [false, { enabled: false, max: 1 }]) {
      const app = await appWith({ rateLimit });
      const got = await statuses(app, write(REMOTE), 5);
      expect(got, JSON.stringify(rateLimit)).toEqual([400, 400, 400, 400, 400]);
    }
  });

  it('does not count loopback clients by default: more writes than the default limit from 127.0.0.1 pass, while another address is stopped at it', async () => {
    const app = await appWith();
    const defaults = parseConfig({}).http.rateLimit;
    if (defaults === false) throw new Error('the default rate limit is on');
    const { max } = defaults;
    expect(max).toBeGreaterThanOrEqual(1_000);
    const local = await statuses(app, write('127.0.0.1'), max + 500);
    expect(local.filter((s) => s === 429)).toHaveLength(0);
    const v6 = await statuses(app, write('::1'), 10);
    expect(v6.filter((s) => s === 429)).toHaveLength(0);
    const remote = await statuses(app, write(REMOTE), max + 1);
    expect(remote.slice(0, max).filter((s) => s === 429)).toHaveLength(0);
    expect(remote[max]).toBe(429);
  }, 60_000);

  it('counts loopback too with allowLoopback false', async () => {
    const app = await appWith({ rateLimit: { max: 2, allowLoopback: false } });
    expect(await statuses(app, write('127.0.0.1'), 3)).toEqual([400, 400, 429]);
  });

  it('behind a proxy named in trustProxy counts the forwarded client, not the proxy on loopback', async () => {
    const forwarded = (client: string) => write('127.0.0.1', { 'x-forwarded-for': client });
    const trusted = await appWith({ rateLimit: { max: 2 }, trustProxy: ['127.0.0.1'] });
    expect(await statuses(trusted, forwarded('203.0.113.5'), 3)).toEqual([400, 400, 429]);
    expect(await statuses(trusted, forwarded('203.0.113.6'), 3)).toEqual([400, 400, 429]);
    // without trustProxy every client behind a local proxy looks like loopback: the README says so
    const untrusted = await appWith({ rateLimit: { max: 2 } });
    expect(await statuses(untrusted, forwarded('203.0.113.5'), 3)).toEqual([400, 400, 400]);
    // and a trusted header from an address that is not the proxy is ignored
    expect(await statuses(trusted, write(REMOTE, { 'x-forwarded-for': '127.0.0.1' }), 3)).toEqual([
      400, 400, 429,
    ]);
  });

  it('refuses a bad rateLimit or trustProxy in the config, naming the field', () => {
    expect(() => parseConfig({ http: { rateLimit: { max: 0 } } })).toThrow(/http\.rateLimit\.max/);
    expect(() => parseConfig({ http: { rateLimit: true } })).toThrow(/http\.rateLimit/);
    expect(() => parseConfig({ http: { trustProxy: ['10.0.0.0/33'] } })).toThrow(/http\.trustProxy\[0\]/);
    expect(() => parseConfig({ http: { trustProxy: true } })).toThrow(
      /http\.trustProxy: expected false or a list/,
    );
  });
});
