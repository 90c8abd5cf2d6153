// What a service that may face a network owes its callers: security headers, request ids that tie an
// answer to its log lines, and a header limit answered 431 in our shape (over a real socket: inject()
// does not go through Node's HTTP parser).
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.ts';
import { createLogger } from '../../../src/logger.ts';
import { createSwitchboard, type Switchboard } from '../../../src/switchboard.ts';
import { tempDir, testConfig } from '../../support/system.ts';

const TOKEN = 'hardening-token-0123456789';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const logLines: string[] = [];
// debug: successful requests are logged at debug (errors at info), and these tests read both
const log = createLogger({
  level: 'debug',
  destination: { write: (line: string) => void logLines.push(line) },
});

let sb: Switchboard;
let dir: string;

beforeAll(async () => {
  dir = tempDir();
  sb = await createSwitchboard(testConfig(dir, 1), { log, fsync: false });
});

afterAll(async () => {
  await sb?.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `head` (request line and headers) to a listening app and reads the whole answer. */
function rawRequest(app: FastifyInstance, head: string): Promise<string> {
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('not listening');
  return new Promise((resolve, reject) => {
    const socket = connect(address.port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d: Buffer) => {
      answer += d.toString('latin1');
    });
    socket.on('close', () => resolve(answer));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNRESET' ? resolve(answer) : reject(err),
    );
    socket.write(head);
  });
}

function parseAnswer(answer: string): { status: number; body: unknown } {
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
  const text = answer.slice(answer.indexOf('\r\n\r\n') + 4);
  return { status, body: text ? JSON.parse(text) : undefined };
}

describe('security headers', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ switchboard: sb, log, token: TOKEN });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it("sends helmet's headers with a CSP of default-src 'self' on answers, 401s and 404s included", async () => {
    for (const [url, headers, status] of [
      ['/api/masters', { authorization: `Bearer ${TOKEN}` }, 200],
      ['/api/masters', {}, 401],
      ['/nothing', { authorization: `Bearer ${TOKEN}` }, 404],
      ['/healthz', {}, 200],
    ] as const) {
      const res = await app.inject({ method: 'GET', url, headers });
      expect(res.statusCode, url).toBe(status);
      const csp = String(res.headers['content-security-policy']);
      expect(csp.split(';').map((d) => d.trim())).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).toContain("frame-ancestors 'self'");
      // plain HTTP on loopback or behind a proxy: upgrading the page's own asset URLs would break it
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(res.headers['referrer-policy']).toBe('no-referrer');
      expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(res.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(res.headers).not.toHaveProperty('x-powered-by');
    }
  });
});

describe('request ids', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ switchboard: sb, log, token: TOKEN });
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
  });

  it('gives every answer its own x-request-id, a random UUID, and logs the request under it', async () => {
    const first = await app.inject({ method: 'GET', url: '/healthz' });
    const second = await app.inject({ method: 'GET', url: '/api/masters' });
    const a = first.headers['x-request-id'] as string;
    const b = second.headers['x-request-id'] as string;
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
    const lines = logLines.filter((l) => l.includes(b)).map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(['incoming request', 'request completed']);
    expect(lines.every((l) => l.reqId === b)).toBe(true);
    expect(lines[1].res.statusCode).toBe(401);
  });

  it('keeps a short plain x-request-id from the caller, and answers with it', async () => {
    for (const id of ['abc-123', 'req_7.2:9', 'A'.repeat(64)]) {
      const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } });
      expect(res.headers['x-request-id']).toBe(id);
    }
    expect(logLines.some((l) => JSON.parse(l).reqId === 'req_7.2:9')).toBe(true);
  });

  it('replaces a caller id that is long, empty or carries other characters, so the log holds only plain ids', async () => {
    for (const id of [
      'A'.repeat(65),
      '',
      'has space',
      'semi;colon',
      '"quoted"',
      'a/b',
      'ünï',
      '{"json":1}',
    ]) {
      const res = await app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': id } });
      expect(res.headers['x-request-id'], id).toMatch(UUID);
    }
  });

  it('says the id on a refused URL too (the router answers those before any hook)', async () => {
    const res = await app.inject({
      method: 'GET',
      url: '/api/masters/%zz',
      headers: { 'x-request-id': 'bad-url-1', authorization: `Bearer ${TOKEN}` },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['x-request-id']).toBe('bad-url-1');
  });
});

describe('limits over a real socket', () => {
  let app: FastifyInstance;
  let small: FastifyInstance;
  beforeAll(async () => {
    app = await buildApp({ switchboard: sb, log, token: TOKEN });
    small = await buildApp({ switchboard: sb, log, token: TOKEN, maxHeaderBytes: 4 * 1024 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    await small.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app.close();
    await small.close();
  });

  const headOf = (bytes: number) =>
    `GET /api/masters HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${TOKEN}\r\n` +
    `X-Filler: ${'x'.repeat(bytes)}\r\nConnection: close\r\n\r\n`;

  it('answers request headers over 16 KiB with 431 SB_ERR_HEADERS_TOO_LARGE in our shape, not a 5xx', async () => {
    const { status, body } = parseAnswer(await rawRequest(app, headOf(20 * 1024)));
    expect(status).toBe(431);
    expect(body).toEqual({
      statusCode: 431,
      error: 'Request Header Fields Too Large',
      message: expect.any(String),
      code: 'SB_ERR_HEADERS_TOO_LARGE',
    });
  });

  it('serves headers under the limit', async () => {
    expect(parseAnswer(await rawRequest(app, headOf(12 * 1024))).status).toBe(200);
  });

  it('takes its header limit from maxHeaderBytes', async () => {
    expect(parseAnswer(await rawRequest(small, headOf(3 * 1024))).status).toBe(200);
    expect(parseAnswer(await rawRequest(small, headOf(5 * 1024))).status).toBe(431);
  });

  it('answers bytes that are not HTTP with 400 SB_ERR_BAD_REQUEST', async () => {
    const { status, body } = parseAnswer(await rawRequest(app, 'HELLO THERE\r\n\r\n'));
    expect(status).toBe(400);
    expect(body).toMatchObject({ statusCode: 400, code: 'SB_ERR_BAD_REQUEST' });
  });
});
