// Access to every route, generated from Fastify's own route table: with a token set, only the probes
// answer without it, the read-only token reads and never writes, and a route added later is guarded
// without asking. app.inject() over a real switchboard (sim masters, store in a temp dir).
import { rmSync } from 'node:fs';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppOptions, buildApp } from '../../../src/app.ts';
import { createGuard } from '../../../src/http/auth.ts';
import { createSwitchboard, type Switchboard } from '../../../src/switchboard.ts';
import { concreteUrl, type RouteEntry, routeTable } from '../../support/routes.ts';
import { PHONES, RECIPIENTS, tempDir, testConfig } from '../../support/system.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const TOKEN = 'write-token-0123456789abcdef';
const READ_TOKEN = 'read-token-0123456789abcdef';
const A = PHONES[0]!;
const PROBES = ['/healthz', '/readyz'];
/** The inspector's page and assets: no data, and a browser cannot send a header when it opens a page. */
const INSPECTOR_SHELL = ['/inspector', '/inspector/', '/inspector/assets/:file'];
const PUBLIC = [...PROBES, ...INSPECTOR_SHELL];
const READ_METHODS = ['GET', 'HEAD'];

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function expectError(res: LightMyRequestResponse, statusCode: number, code: string, what: string) {
  expect(res.statusCode, `${what}: ${res.body}`).toBe(statusCode);
  // a HEAD answer has no body to check
  if (!what.startsWith('HEAD')) {
    expect(res.json(), what).toEqual({
      statusCode,
      error: expect.any(String),
      message: expect.any(String),
      code,
    });
  }
}

/** A request for a route; params get real values so a read with a token gets past validation. */
function requestFor(route: RouteEntry, id: string, headers: Record<string, string> = {}): InjectOptions {
  const url = concreteUrl(route.path, (param) =>
    param === 'phone' ? encodeURIComponent(A) : param === 'id' ? id : 'x',
  );
  return { method: route.method as InjectOptions['method'], url, headers };
}

const label = (r: RouteEntry) => `${r.method} ${r.path}`;

describe('access to every route in the route table, with a write and a read token set', () => {
  let sb: Switchboard;
  let app: FastifyInstance;
  let dir: string;
  let id: string;

  async function build(options: Partial<AppOptions> = {}): Promise<FastifyInstance> {
    return buildApp({ switchboard: sb, log, token: TOKEN, readToken: READ_TOKEN, ...options });
  }

  beforeAll(async () => {
    dir = tempDir();
    sb = await createSwitchboard(testConfig(dir, 3), { log, fsync: false });
    const deadline = Date.now() + 5_000;
    while (sb.getHealthyMasters().length < 3) {
      if (Date.now() > deadline) throw new Error('masters not healthy within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    id = (await sb.send({ to: RECIPIENTS[0]!, text: 'personal data' })).id;
    app = await build();
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a route table that holds every API route, reads and writes, HEAD mirrors included', () => {
    const table = routeTable(app, { head: true }).map(label);
    // A sanity floor, so the generated tests below cannot pass over an empty or half-read table.
    for (const route of [
      'GET /healthz',
      'HEAD /readyz',
      'GET /api/messages',
      'GET /api/messages/:id',
      'POST /api/messages',
      'PUT /api/balancer/strategy',
      'POST /api/sim/masters/:phone/fault',
      'GET /api/sim/sends',
    ]) {
      expect(table).toContain(route);
    }
    expect(table.length).toBeGreaterThanOrEqual(24);
  });

  it('answers every route but the two probes and the inspector page with 401 SB_ERR_UNAUTHORIZED without a token or with a wrong one', async () => {
    const routes = routeTable(app, { head: true }).filter((r) => !PUBLIC.includes(r.path));
    expect(routes.length).toBeGreaterThanOrEqual(20);
    for (const route of routes) {
      for (const headers of [
        {},
        bearer('wrong'),
        bearer(`${TOKEN}x`),
        bearer(READ_TOKEN.slice(0, -1)),
        { authorization: TOKEN },
        { authorization: `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}` },
      ]) {
        const res = await app.inject(requestFor(route, id, headers));
        expectError(res, 401, 'SB_ERR_UNAUTHORIZED', `${label(route)} ${JSON.stringify(headers)}`);
        expect(res.headers['www-authenticate']).toBe('Bearer');
      }
    }
  });

  it('answers the two probes and the inspector page (no data) without a token, and only them', async () => {
    const open: string[] = [];
    for (const route of routeTable(app, { head: true })) {
      const res = await app.inject(requestFor(route, id));
      if (res.statusCode !== 401) open.push(label(route));
    }
    expect(open.sort()).toEqual(
      PUBLIC.flatMap((path) => [`GET ${path}`, `HEAD ${path}`]).sort((a, b) => a.localeCompare(b)),
    );
    // The inspector's data (its stream and charts) is a read like any other.
    for (const url of ['/inspector/stream', '/inspector/machines.json']) {
      expectError(await app.inject({ method: 'GET', url }), 401, 'SB_ERR_UNAUTHORIZED', `GET ${url}`);
    }
  });

  it('answers every write route with 403 SB_ERR_FORBIDDEN to the read token, and every read route with neither 401 nor 403', async () => {
    const before = sb.listMessages().messages.length;
    const failovers = sb.getFailovers().length;
    const routes = routeTable(app, { head: true });
    const writes = routes.filter((r) => !READ_METHODS.includes(r.method));
    const reads = routes.filter((r) => READ_METHODS.includes(r.method));
    expect(writes.length).toBeGreaterThanOrEqual(6);
    expect(reads.length).toBeGreaterThanOrEqual(18);
    for (const route of writes) {
      // a body that would pass validation, so the 403 is the guard's and not a 400 in disguise
      const res = await app.inject({
        ...requestFor(route, id, { ...bearer(READ_TOKEN), 'content-type': 'application/json' }),
        payload: JSON.stringify({ to: RECIPIENTS[1], text: 'not allowed', kind: 'heal', priority: 1 }),
      });
      expectError(res, 403, 'SB_ERR_FORBIDDEN', label(route));
    }
    for (const route of reads) {
      const res = await app.inject(requestFor(route, id, bearer(READ_TOKEN)));
      expect([401, 403], `${label(route)} -> ${res.statusCode}`).not.toContain(res.statusCode);
      expect(res.statusCode, label(route)).toBeLessThan(500);
    }
    // the refused writes changed nothing
    expect(sb.listMessages().messages).toHaveLength(before);
    expect(sb.getFailovers()).toHaveLength(failovers);
  });

  it('lets the write token through on every route', async () => {
    for (const route of routeTable(app, { head: true })) {
      // no body: writes stop at validation (400) or act (2xx); reset and failover without a body are harmless here
      const res = await app.inject(requestFor(route, id, bearer(TOKEN)));
      expect([401, 403], `${label(route)} -> ${res.statusCode}`).not.toContain(res.statusCode);
      expect(res.statusCode, label(route)).toBeLessThan(500);
    }
  });

  it('lets the read token read a message, recipient and text included', async () => {
    const res = await app.inject({ method: 'GET', url: `/api/messages/${id}`, headers: bearer(READ_TOKEN) });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ id, to: RECIPIENTS[0], text: 'personal data' });
  });

  it('guards a route added later that says nothing about access: GET needs a token, POST the write token', async () => {
    const extended = await build();
    extended.get('/api/added-later', async () => ({ secret: 'x' }));
    extended.post('/api/added-later', async () => ({ done: true }));
    extended.delete('/api/added-later/:thing', async () => ({ done: true }));
    extended.get('/inspector/*', async () => 'page');
    await extended.ready();
    try {
      const added = routeTable(extended, { head: true }).filter(
        (r) => !routeTable(app, { head: true }).some((o) => label(o) === label(r)),
      );
      expect(added.map(label).sort()).toEqual([
        'DELETE /api/added-later/:thing',
        'GET /api/added-later',
        'GET /inspector/*',
        'HEAD /api/added-later',
        'HEAD /inspector/*',
        'POST /api/added-later',
      ]);
      for (const route of added) {
        expectError(await extended.inject(requestFor(route, id)), 401, 'SB_ERR_UNAUTHORIZED', label(route));
        const asReader = await extended.inject(requestFor(route, id, bearer(READ_TOKEN)));
        if (READ_METHODS.includes(route.method)) expect(asReader.statusCode, label(route)).toBe(200);
        else expectError(asReader, 403, 'SB_ERR_FORBIDDEN', label(route));
        expect((await extended.inject(requestFor(route, id, bearer(TOKEN)))).statusCode, label(route)).toBe(
          200,
        );
      }
    } finally {
      await extended.close();
    }
  });

  it('opens a route only when it opts out by name with config.access "public", and refuses a misspelt level', async () => {
    const extended = await build();
    extended.get('/opted-out', { config: { access: 'public' } }, async () => ({ open: true }));
    // a read that changes nothing, declared as such: the read token may use it
    extended.post('/api/search', { config: { access: 'read' } }, async () => ({ found: [] }));
    await extended.ready();
    try {
      expect((await extended.inject({ method: 'GET', url: '/opted-out' })).statusCode).toBe(200);
      const search = { method: 'POST' as const, url: '/api/search' };
      expectError(await extended.inject(search), 401, 'SB_ERR_UNAUTHORIZED', 'POST /api/search');
      expect((await extended.inject({ ...search, headers: bearer(READ_TOKEN) })).statusCode).toBe(200);
    } finally {
      await extended.close();
    }
    const misspelt = await build();
    expect(() =>
      // @ts-expect-error: the type refuses it too; the hook is for JavaScript and casts
      misspelt.get('/typo', { config: { access: 'pubic' } }, async () => ({})),
    ).toThrow(/config\.access "pubic" is not one of public, read, write, metrics/);
    await misspelt.close();
  });

  describe('/metrics, registered by the monitor with config.access "metrics"', () => {
    const withMetrics = async (metricsPublic: boolean) => {
      const a = await build({ http: { ...sb.config.http, metricsPublic } });
      await a.ready();
      return a;
    };

    it('needs a token (read or write) while http.metricsPublic is false', async () => {
      const a = await withMetrics(false);
      try {
        expectError(
          await a.inject({ method: 'GET', url: '/metrics' }),
          401,
          'SB_ERR_UNAUTHORIZED',
          'GET /metrics',
        );
        expect(
          (await a.inject({ method: 'GET', url: '/metrics', headers: bearer(READ_TOKEN) })).statusCode,
        ).toBe(200);
        expect((await a.inject({ method: 'GET', url: '/metrics', headers: bearer(TOKEN) })).statusCode).toBe(
          200,
        );
      } finally {
        await a.close();
      }
    });

    it('answers without a token when http.metricsPublic is true, and nothing else opens with it', async () => {
      const a = await withMetrics(true);
      try {
        expect((await a.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(200);
        expectError(
          await a.inject({ method: 'GET', url: '/api/messages' }),
          401,
          'SB_ERR_UNAUTHORIZED',
          'GET /api/messages',
        );
      } finally {
        await a.close();
      }
    });
  });

  describe('routes that do not exist', () => {
    const missing: InjectOptions[] = [
      { method: 'GET', url: '/api/nothing-here' },
      { method: 'POST', url: '/api/nothing-here' },
      { method: 'DELETE', url: '/api/messages' },
      { method: 'OPTIONS', url: '/api/messages' },
      { method: 'GET', url: '/inspector/nothing-here' },
    ];

    it('answer 401 without a token, like a route that exists, so an anonymous caller cannot map the API', async () => {
      for (const req of missing) {
        expectError(await app.inject(req), 401, 'SB_ERR_UNAUTHORIZED', `${req.method} ${req.url}`);
      }
    });

    it('answer 404 SB_ERR_NOT_FOUND to either token', async () => {
      for (const token of [TOKEN, READ_TOKEN]) {
        for (const req of missing) {
          expectError(
            await app.inject({ ...req, headers: bearer(token) }),
            404,
            'SB_ERR_NOT_FOUND',
            `${req.method} ${req.url}`,
          );
        }
      }
    });

    it('answer a broken %-escape or an over-long param with 401 without a token, 400 or 414 with one', async () => {
      const broken = { method: 'GET' as const, url: '/api/masters/%zz' };
      const long = { method: 'GET' as const, url: `/api/masters/${'1'.repeat(100)}` };
      expectError(await app.inject(broken), 401, 'SB_ERR_UNAUTHORIZED', 'GET broken');
      expectError(await app.inject(long), 401, 'SB_ERR_UNAUTHORIZED', 'GET long');
      expectError(
        await app.inject({ ...broken, headers: bearer(READ_TOKEN) }),
        400,
        'SB_ERR_BAD_URL',
        'GET broken',
      );
      expectError(
        await app.inject({ ...long, headers: bearer(READ_TOKEN) }),
        414,
        'SB_ERR_URL_TOO_LONG',
        'GET long',
      );
    });
  });
});

describe('token settings', () => {
  it('refuses a read token without a write token, naming both variables', () => {
    expect(() => createGuard({ readToken: READ_TOKEN })).toThrow(
      /SWITCHBOARD_READ_TOKEN is set without SWITCHBOARD_TOKEN/,
    );
  });

  it('refuses a read token equal to the write token', () => {
    expect(() => createGuard({ token: TOKEN, readToken: TOKEN })).toThrow(/must differ/);
  });

  it('opens every route when no token is set, as on loopback today', async () => {
    const dir = tempDir();
    const sb = await createSwitchboard(testConfig(dir, 1), { log, fsync: false });
    const app = await buildApp({ switchboard: sb, log });
    await app.ready();
    try {
      for (const route of routeTable(app, { head: true })) {
        const res = await app.inject(requestFor(route, 'no-such-id'));
        expect([401, 403], label(route)).not.toContain(res.statusCode);
      }
    } finally {
      await app.close();
      await sb.stop(100);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
