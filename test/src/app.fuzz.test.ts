// Fuzzes every route of the HTTP API with fast-check, a write and a read token set: arbitrary JSON and
// non-JSON bodies, content types, authorization junk, path params and query strings. Every answer must be
// a 2xx or a 4xx with the error shape and an SB_ERR_ code, never a 5xx; no token may reach a log line,
// captured at debug level; the service must keep serving afterwards.
import { rmSync } from 'node:fs';
import fc from 'fast-check';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS } from '../../actors/sim.transport.ts';
import { buildApp } from '../../src/app.ts';
import { createLogger } from '../../src/logger.ts';
import { STRATEGY_NAMES } from '../../src/routing/registry.ts';
import { MESSAGE_STATUSES } from '../../src/store/schema.ts';
import { createSwitchboard, type Switchboard } from '../../src/switchboard.ts';
import { routeTable } from '../support/routes.ts';
import { PHONES, RECIPIENTS, tempDir, testConfig } from '../support/system.ts';

/** Every log line, at debug level, so the test can look for tokens in them. */
const logLines: string[] = [];
const log = createLogger({
  level: 'debug',
  destination: {
    write(line: string) {
      logLines.push(line);
      if (process.env.TEST_LOG) process.stdout.write(line);
    },
  },
});
const TOKEN = 'fuzz-token-0123456789';
const READ_TOKEN = 'fuzz-read-token-9876543210';
const MASTERS = PHONES.slice(0, 3);
const RUNS = Number(process.env.FUZZ_RUNS ?? 600);

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';
type Param = 'phone' | 'id';
interface Route {
  method: Method;
  path: string;
}

/** Every route the app registers (HEAD mirrors of GET routes aside); checked against the route table below. */
const ROUTES: Route[] = [
  { method: 'GET', path: '/healthz' },
  { method: 'GET', path: '/readyz' },
  { method: 'GET', path: '/api/masters' },
  { method: 'GET', path: '/api/masters/:phone' },
  { method: 'POST', path: '/api/masters/:phone/reset' },
  { method: 'POST', path: '/api/masters/:phone/failover' },
  { method: 'PUT', path: '/api/masters/:phone/priority' },
  { method: 'POST', path: '/api/messages' },
  { method: 'GET', path: '/api/messages' },
  { method: 'GET', path: '/api/messages/:id' },
  { method: 'GET', path: '/api/balancer' },
  { method: 'PUT', path: '/api/balancer/strategy' },
  { method: 'GET', path: '/api/failovers' },
  { method: 'POST', path: '/api/sim/masters/:phone/fault' },
  { method: 'GET', path: '/api/sim/sends' },
  { method: 'GET', path: '/metrics' },
  { method: 'GET', path: '/api/report' },
  { method: 'GET', path: '/api/dashboard' },
  { method: 'GET', path: '/api/alerts' },
  { method: 'POST', path: '/api/alerts/:id/ack' },
  { method: 'GET', path: '/api/webhooks' },
  { method: 'POST', path: '/api/webhooks' },
  { method: 'DELETE', path: '/api/webhooks/:id' },
  { method: 'GET', path: '/api/webhooks/parked' },
  { method: 'POST', path: '/api/webhooks/parked/:id/retry' },
  { method: 'DELETE', path: '/api/webhooks/parked/:id' },
  { method: 'GET', path: '/inspector' },
  { method: 'GET', path: '/inspector/' },
  { method: 'GET', path: '/inspector/assets/:file' },
  { method: 'GET', path: '/inspector/machines.json' },
  { method: 'GET', path: '/inspector/stream' },
];

/** Characters a raw URL may carry as they are, plus '%' so broken escapes (%zz, %E0%A4) come up. */
const urlChar = fc.constantFrom(
  ..."abcXYZ0123456789+-._~!$&'()*,;=:@%/".split(''),
  '%2B',
  '%00',
  '%25',
  '%E0%A4',
  '%F0%9F%98%80',
  '%zz',
  '%',
  '..',
);
const rawSegment = fc.array(urlChar, { maxLength: 40, size: 'max' }).map((parts) => parts.join(''));
const unicode = fc.string({ unit: 'grapheme', maxLength: 40, size: 'max' });
const veryLong = fc.string({ minLength: 60, maxLength: 2_000, size: 'max' });
const phoneLike = fc
  .tuple(fc.constantFrom('+', '', '00', '+0', '++'), fc.stringMatching(/^[0-9 ()-]{0,24}$/, { size: 'max' }))
  .map(([p, d]) => p + d);

/** A value for a path param, already placed in the URL (encoded, or raw with odd escapes). */
const paramArb = (param: Param) =>
  fc.oneof(
    param === 'phone'
      ? fc.constantFrom(...MASTERS, ...PHONES.slice(3), '+971 50 123 4567').map(encodeURIComponent)
      : fc.constantFrom('no-such-id', 'm-1', '0'),
    phoneLike.map(encodeURIComponent),
    unicode.map(encodeURIComponent),
    veryLong.map(encodeURIComponent),
    rawSegment,
    fc.constant(''),
  );

const queryValue = fc.oneof(
  fc.constantFrom(
    ...MESSAGE_STATUSES,
    'lost',
    '',
    '1',
    '100',
    '10000',
    '10001',
    '0',
    '-1',
    '1.5',
    '1e3',
    'NaN',
    'critical',
    'info',
    'open',
    'resolved',
  ),
  ...MASTERS.map((p) => fc.constant(p)),
  unicode,
  veryLong,
  fc.integer().map(String),
);
const queryKey = fc.oneof(
  fc.constantFrom(
    'status',
    'master',
    'limit',
    'status[]',
    '__proto__',
    'constructor',
    'limit[0]',
    'severity',
    'state',
  ),
  unicode,
);
/** A query string: well-encoded pairs, repeated keys, or raw junk with broken escapes. */
const queryArb = fc.oneof(
  fc.constant(''),
  fc
    .array(fc.tuple(queryKey, queryValue), { maxLength: 5, size: 'max' })
    .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&')),
  rawSegment,
);

const json = fc.jsonValue({ maxDepth: 3 });
const stringish = fc.oneof(
  unicode,
  phoneLike,
  fc.constantFrom(...RECIPIENTS.slice(0, 3), ...MASTERS),
  veryLong,
);
const numberish = fc.oneof(
  fc.integer(),
  fc.integer({ min: 0, max: 20 }),
  fc.double(),
  fc.constantFrom(1e300, -0, 2 ** 53, 1_000_001),
  unicode,
);
const maybeJunk = <T>(good: fc.Arbitrary<T>) =>
  fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: fc.oneof(stringish, numberish, json) });
/** Objects that mostly fit `fields`, sometimes with fields missing or one extra. */
const shaped = (fields: Record<string, fc.Arbitrary<unknown>>) =>
  fc
    .tuple(
      fc.oneof(
        { weight: 3, arbitrary: fc.record(fields) },
        { weight: 1, arbitrary: fc.record(fields, { requiredKeys: [] }) },
      ),
      fc.oneof(
        { weight: 4, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.tuple(unicode, json) },
      ),
    )
    .map(([body, extra]) => (extra ? { ...body, [extra[0]]: extra[1] } : body));

/** For each route, bodies shaped like its own, good and bad; other routes get arbitrary JSON. */
const shapedBodies: Record<string, fc.Arbitrary<unknown>> = {
  'POST /api/messages': shaped({
    to: maybeJunk(fc.constantFrom(...RECIPIENTS.slice(0, 5))),
    text: maybeJunk(fc.string({ minLength: 1, maxLength: 200, size: 'max' })),
    idempotencyKey: maybeJunk(fc.constantFrom('k1', 'k2', 'k3')),
  }),
  'POST /api/masters/:phone/failover': shaped({ to: maybeJunk(fc.constantFrom(...MASTERS)) }),
  'PUT /api/masters/:phone/priority': shaped({ priority: maybeJunk(fc.integer({ min: 0, max: 10 })) }),
  // Receivers on a closed loopback port: what the fuzz adds is refused, retried and parked, never a 5xx.
  'POST /api/webhooks': shaped({
    url: maybeJunk(
      fc.constantFrom('http://127.0.0.1:9/a', 'https://127.0.0.1:9/b', 'ftp://x', 'http://u:p@h/'),
    ),
    events: maybeJunk(
      fc.array(fc.constantFrom('message.sent', 'alert.opened', '*', 'nope'), { maxLength: 3 }),
    ),
    secret: maybeJunk(fc.constantFrom(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, 'whsec_', 'x')),
    includeText: maybeJunk(fc.boolean()),
  }),
  'PUT /api/balancer/strategy': shaped({ strategy: maybeJunk(fc.constantFrom(...STRATEGY_NAMES)) }),
  // Faults that take a master down would make later answers depend on timing (503 from /readyz is
  // correct then): the fuzz only ever injects "heal", and otherwise kinds that do not exist.
  'POST /api/sim/masters/:phone/fault': shaped({
    kind: fc.oneof(
      fc.constant('heal'),
      unicode.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k)),
      json.filter((k) => typeof k !== 'string'),
    ),
    latencyMs: maybeJunk(fc.integer({ min: 0, max: 1_000 })),
    errorRate: maybeJunk(fc.double({ min: 0, max: 1, noNaN: true })),
  }),
};

/** What goes on the wire: JSON of a shaped body, of anything, broken or huge JSON, or nothing. */
const payloadArb = (route: Route) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: (shapedBodies[`${route.method} ${route.path}`] ?? json).map((b) => JSON.stringify(b)),
    },
    { weight: 2, arbitrary: json.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.anything().map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.string({ maxLength: 100, size: 'max' }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        '{',
        '{"to":',
        '[1,',
        'null',
        '"x"',
        '{"__proto__":{"a":1}}',
        '{"constructor":{"prototype":{"a":1}}}',
        JSON.stringify({ to: RECIPIENTS[0], text: 'x'.repeat(70 * 1024) }),
      ),
    },
    { weight: 2, arbitrary: fc.constant(undefined) },
  );

const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'application/json;charset=utf-16',
      'APPLICATION/JSON',
      'application/vnd.api+json',
      'application/jsonx',
      'text/plain',
      'text/plain; charset=utf-8',
      'text/json',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      '*/*',
      '',
      ';',
      'application/json; boundary',
    ),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,60}$/, { size: 'max' }) },
);

const authorizationArb = fc.oneof(
  { weight: 5, arbitrary: fc.constant(`Bearer ${TOKEN}`) },
  { weight: 2, arbitrary: fc.constant(`Bearer ${READ_TOKEN}`) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      'Bearer',
      'Bearer ',
      `bearer ${TOKEN}`,
      TOKEN,
      `Bearer  ${TOKEN}`,
      `Bearer ${TOKEN} `,
      `Bearer ${TOKEN}${TOKEN}`,
      `Bearer ${READ_TOKEN} `,
      `Bearer ${READ_TOKEN.slice(0, -1)}`,
      READ_TOKEN,
    ),
  },
  {
    weight: 1,
    arbitrary: fc.stringMatching(/^[\x20-\x7e\x80-\xff]{0,80}$/, { size: 'max' }).map((s) => `Bearer ${s}`),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[\x20-\x7e]{0,80}$/, { size: 'max' }) },
);

const extraHeadersArb = fc.record(
  {
    accept: fc.constantFrom('application/json', 'text/html', '*/*', '', 'application/xml;q=0.9'),
    // a content-length that disagrees with the body, now and then
    'content-length': fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.nat({ max: 200 }).map(String) },
      { weight: 1, arbitrary: fc.constantFrom('-1', 'abc', '1e3') },
    ),
    // up to 80: ids over 64 characters are replaced, so both sides of that rule come up
    'x-request-id': fc.stringMatching(/^[\x21-\x7e]{0,80}$/, { size: 'max' }),
    'accept-encoding': fc.constantFrom('gzip', 'br', 'identity', 'x'),
  },
  { requiredKeys: [] },
);

/** Mostly the route's own method; sometimes one it does not have (404) or HEAD. */
const methodArb = (route: Route) =>
  fc.oneof(
    { weight: 8, arbitrary: fc.constant(route.method) },
    { weight: 1, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD') },
  );

function fillPath(path: string, values: string[]): string {
  let i = 0;
  return path.replace(/:(phone|id)/g, () => values[i++] ?? '');
}

/** A request for one of ROUTES; `ids` are messages that exist, so GET /api/messages/:id can find one. */
function requestArb(ids: string[]) {
  return fc
    .constantFrom(...ROUTES)
    .chain((route) => {
      const params = [...route.path.matchAll(/:(phone|id)/g)].map((m) =>
        m[1] === 'id'
          ? fc.oneof(fc.constantFrom(...ids), paramArb('id'))
          : fc.oneof(fc.constantFrom(...MASTERS).map(encodeURIComponent), paramArb('phone')),
      );
      return fc.record({
        route: fc.constant(route),
        method: methodArb(route),
        params: fc.tuple(...params),
        query: route.path === '/api/messages' ? queryArb : fc.oneof(fc.constant(''), queryArb),
        payload:
          route.method === 'GET' ? fc.oneof(fc.constant(undefined), payloadArb(route)) : payloadArb(route),
        contentType: contentTypeArb,
        authorization: authorizationArb,
        extra: extraHeadersArb,
      });
    })
    .map(({ route, method, params, query, payload, contentType, authorization, extra }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(extra)) if (v !== undefined) headers[k] = v;
      if (contentType !== undefined) headers['content-type'] = contentType;
      if (authorization !== undefined) headers.authorization = authorization;
      if (payload === undefined) delete headers['content-length'];
      const url = fillPath(route.path, params) + (query ? `?${query}` : '');
      const options: InjectOptions = {
        method: method as InjectOptions['method'],
        url,
        headers,
        ...(payload === undefined ? {} : { payload }),
      };
      return { route, options };
    });
}

describe('the HTTP API under fuzzing', () => {
  let sb: Switchboard;
  let app: FastifyInstance;
  let dir: string;
  const ids: string[] = [];

  beforeAll(async () => {
    dir = tempDir();
    sb = await createSwitchboard(testConfig(dir, 3), { log, fsync: false });
    app = await buildApp({ switchboard: sb, log, token: TOKEN, readToken: READ_TOKEN });
    await app.ready();
    const deadline = Date.now() + 5_000;
    while (sb.getHealthyMasters().length < 3) {
      if (Date.now() > deadline) throw new Error('masters not healthy within 5 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const to of RECIPIENTS.slice(0, 3)) ids.push((await sb.send({ to, text: 'seed' })).id);
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('fuzzes every registered route', () => {
    const fuzzed = ROUTES.map((r) => `${r.method} ${r.path}`).sort();
    expect(routeTable(app).map((r) => `${r.method} ${r.path}`)).toEqual(fuzzed);
  });

  it('answers arbitrary requests on every route with a 2xx or a 4xx carrying an SB_ERR_ code, never a 5xx', async () => {
    const reached = new Set<string>();
    let answers = 0;
    let successes = 0;
    // the longest values that really went out: fast-check's default size would cap them near 10
    const longest = { url: 0, authorization: 0, requestId: 0 };
    await fc.assert(
      fc.asyncProperty(requestArb(ids), async ({ route, options }) => {
        const res = await app.inject(options);
        const key = `${route.method} ${route.path}`;
        reached.add(key);
        answers++;
        if (res.statusCode < 300) successes++;
        const headers = options.headers as Record<string, string>;
        longest.url = Math.max(longest.url, (options.url as string).length);
        longest.authorization = Math.max(longest.authorization, headers.authorization?.length ?? 0);
        longest.requestId = Math.max(longest.requestId, headers['x-request-id']?.length ?? 0);
        const what = `${options.method} ${options.url} -> ${res.statusCode} ${res.body.slice(0, 300)}`;
        expect(res.statusCode, what).toBeGreaterThanOrEqual(200);
        expect(res.statusCode, what).toBeLessThan(500);
        expect(res.headers['x-request-id'], what).toMatch(/^[A-Za-z0-9._:-]{1,64}$/);
        if (res.statusCode >= 400 && options.method !== 'HEAD') {
          expect(res.json(), what).toEqual({
            statusCode: res.statusCode,
            error: expect.any(String),
            message: expect.any(String),
            code: expect.stringMatching(/^SB_ERR_[A-Z_]+$/),
          });
        }
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: 45_000, markInterruptAsFailure: false },
    );
    // every route was reached, and a fair share of requests got past auth and validation
    expect([...reached].sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    expect(successes / answers).toBeGreaterThan(0.2);
    if (answers >= 300) {
      expect(longest.url).toBeGreaterThan(1_000);
      expect(longest.authorization).toBeGreaterThan(70);
      expect(longest.requestId).toBeGreaterThan(64);
    }
  }, 60_000);

  it('writes no token to any log line, at debug level, through all that', () => {
    expect(log.isLevelEnabled('debug')).toBe(true);
    // every request logs at least "incoming request" and "request completed": the capture works
    expect(logLines.length).toBeGreaterThan(2 * Math.min(RUNS, 300));
    const leaks = logLines.filter((line) => line.includes(TOKEN) || line.includes(READ_TOKEN));
    expect(leaks).toEqual([]);
  });

  it('keeps serving after the fuzzing: /healthz 200, /readyz 200, a message still goes out', async () => {
    for (const phone of MASTERS) sb.injectFault(phone, { kind: 'heal' });
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    const res = await app.inject({
      method: 'POST',
      url: '/api/messages',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      payload: JSON.stringify({ to: RECIPIENTS[9], text: 'after the storm' }),
    });
    expect(res.statusCode).toBe(202);
    const id = res.json().id as string;
    const deadline = Date.now() + 5_000;
    while (!['sent', 'delivered'].includes((await sb.getMessage(id))?.status ?? '')) {
      if (Date.now() > deadline) throw new Error(`message ${id} not sent within 5 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  });
});
