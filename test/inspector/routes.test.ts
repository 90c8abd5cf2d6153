// The inspector's routes on the real app: the page and every asset it needs served locally under a
// strict CSP, nothing else from those folders, the charts, and the live stream over real HTTP.
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MachinesResponse, StreamMessage } from '../../inspector/protocol.ts';
import { INSPECTOR_CSP } from '../../inspector/routes.ts';
import { buildApp } from '../../src/app.ts';
import { createSwitchboard, type Switchboard } from '../../src/switchboard.ts';
import { PHONES, tempDir, testConfig } from '../support/system.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const SSE = { headers: { accept: 'text/event-stream' } };
const [A] = PHONES as [string];

let sb: Switchboard;
let app: FastifyInstance;
let dir: string;
let base: string;

beforeAll(async () => {
  dir = tempDir();
  sb = await createSwitchboard(testConfig(dir, 3), { log, fsync: false });
  app = await buildApp({ switchboard: sb, log });
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  // The test's own HTTP client (undici) keeps spare sockets, with no request on them, open for 4 s.
  const closing = app.close();
  app.server.closeAllConnections();
  await closing;
  await sb.stop(100);
  rmSync(dir, { recursive: true, force: true });
});

/** A page's view of the stream: every `data:` message so far, read on demand. */
class EventReader {
  readonly messages: StreamMessage[] = [];
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #controller: AbortController;
  readonly #decoder = new TextDecoder();
  #buffer = '';

  static async open(url: string): Promise<EventReader> {
    const controller = new AbortController();
    const res = await fetch(url, { ...SSE, signal: controller.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    return new EventReader(res, controller);
  }

  private constructor(res: Response, controller: AbortController) {
    this.#reader = res.body!.getReader();
    this.#controller = controller;
  }

  /** Reads until `done(messages)` holds; throws after `timeoutMs`. */
  async until(done: (messages: StreamMessage[]) => boolean, timeoutMs = 8_000): Promise<StreamMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (!done(this.messages)) {
      if (Date.now() > deadline)
        throw new Error(`stream: timed out; got ${this.messages.map((m) => m.type)}`);
      const { value, done: ended } = await this.#reader.read();
      if (ended) throw new Error('stream: ended');
      this.#buffer += this.#decoder.decode(value, { stream: true });
      let end = this.#buffer.indexOf('\n\n');
      while (end >= 0) {
        const data = this.#buffer
          .slice(0, end)
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('');
        this.#buffer = this.#buffer.slice(end + 2);
        end = this.#buffer.indexOf('\n\n');
        if (data) this.messages.push(JSON.parse(data) as StreamMessage);
      }
    }
    return this.messages;
  }

  /** Goes away as a closed tab does: the connection is dropped. */
  close(): void {
    this.#controller.abort();
  }
}

describe('GET /inspector', () => {
  it('serves the page at "/inspector" and "/inspector/" with a CSP of default-src \'self\'', async () => {
    for (const url of ['/inspector', '/inspector/']) {
      const res = await app.inject({ url });
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      expect(res.headers['content-security-policy']).toBe(INSPECTOR_CSP);
      expect(INSPECTOR_CSP).toMatch(/^default-src 'self'/);
      expect(res.body).toContain('<title>switchboard inspector</title>');
    }
  });

  it('has no inline script or style and loads nothing from another origin', async () => {
    const html = (await app.inject({ url: '/inspector' })).body;
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // every script has a src
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('serves every asset the page and its modules load, with the right type', async () => {
    const html = (await app.inject({ url: '/inspector' })).body;
    const referenced = [...html.matchAll(/(?:src|href)="(\/inspector\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    const app_js = (await app.inject({ url: '/inspector/assets/app.js' })).body;
    const imported = [...app_js.matchAll(/from '\.\/([a-z-]+\.js)'/g)].map(
      (m) => `/inspector/assets/${m[1]}`,
    );
    const urls = [...new Set([...referenced, ...imported])];
    expect(urls).toEqual(
      expect.arrayContaining([
        '/inspector/assets/style.css',
        '/inspector/assets/elk.bundled.js',
        '/inspector/assets/app.js',
        '/inspector/assets/chart.js',
        '/inspector/assets/stream.js',
      ]),
    );
    for (const url of urls) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      const type = url.endsWith('.css') ? /text\/css/ : url.endsWith('.svg') ? /image\/svg/ : /javascript/;
      expect(res.headers['content-type'], url).toMatch(type);
    }
    // elkjs's browser bundle, from node_modules: a layout library, not a CDN link.
    expect((await app.inject({ url: '/inspector/assets/elk.bundled.js' })).body).toContain('ELK');
  });

  it("serves nothing else from the page's folder or node_modules", async () => {
    for (const url of [
      '/inspector/assets/index.html',
      '/inspector/assets/tsconfig.json',
      '/inspector/assets/globals.d.ts',
      '/inspector/assets/main.js',
      '/inspector/assets/../routes.ts',
      '/inspector/assets/%2e%2e/routes.ts',
    ]) {
      expect((await app.inject({ url })).statusCode, url).toBe(404);
    }
  });

  it('is read-only: no route under /inspector takes anything but GET or HEAD', async () => {
    for (const url of ['/inspector', '/inspector/', '/inspector/stream', '/inspector/machines.json']) {
      for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
        expect((await app.inject({ method, url })).statusCode, `${method} ${url}`).toBe(404);
      }
    }
  });
});

describe('with a token set', () => {
  it('opens the page and its assets without it, and the stream and charts only with it (the read token will do)', async () => {
    const guarded = await buildApp({
      switchboard: sb,
      log,
      token: 'write-token-0123456789',
      readToken: 'read-token-0123456789',
    });
    try {
      for (const url of [
        '/inspector',
        '/inspector/',
        '/inspector/assets/app.js',
        '/inspector/assets/elk.bundled.js',
      ]) {
        expect((await guarded.inject({ url })).statusCode, url).toBe(200);
      }
      for (const url of ['/inspector/stream', '/inspector/machines.json']) {
        expect((await guarded.inject({ url })).statusCode, url).toBe(401);
        const read = await guarded.inject({
          url,
          headers: { authorization: 'Bearer read-token-0123456789' },
        });
        expect(read.statusCode, url).toBe(200);
      }
    } finally {
      await guarded.close();
    }
  });
});

describe('GET /inspector/machines.json', () => {
  it('lists the chart of every machine: supervisor, failover, balancer, master, monitor', async () => {
    const res = await app.inject({ url: '/inspector/machines.json' });
    expect(res.statusCode).toBe(200);
    const body = res.json() as MachinesResponse;
    expect(body.machines.map((m) => m.id)).toEqual([
      'supervisor',
      'failover',
      'balancer',
      'master',
      'monitor',
    ]);
    const master = body.machines.find((m) => m.id === 'master')!;
    expect(master.root.children.map((c) => c.key)).toEqual(['healthy', 'degraded', 'failed', 'recovering']);
  });
});

describe('GET /inspector/stream', () => {
  it('starts with every machine actor of the running service and its state', async () => {
    const stream = await EventReader.open(`${base}/inspector/stream`);
    const [hello] = await stream.until((m) => m.length >= 1);
    stream.close();
    if (hello?.type !== 'hello') throw new Error('expected a hello');
    expect(hello.actors.map((a) => a.label).sort()).toEqual(
      ['balancer', 'monitor', 'supervisor', ...PHONES.slice(0, 3).map((p) => `master:${p}`)].sort(),
    );
    const master = hello.actors.find((a) => a.label === `master:${A}`)!;
    expect(master.machine).toBe('master');
    expect(hello.actors.find((a) => a.session === master.parent)?.label).toBe('supervisor');
    expect(hello.snapshots.find((s) => s.session === master.session)).toMatchObject({ status: 'active' });
  });

  it('shows a fault as it happens: the master leaves for "failed.needsRepair" and a failover incident appears', async () => {
    await waitUntil(() => sb.getHealthyMasters().length === 3);
    const stream = await EventReader.open(`${base}/inspector/stream`);
    const [hello] = await stream.until((m) => m.length >= 1);
    if (hello?.type !== 'hello') throw new Error('expected a hello');
    const session = hello.actors.find((a) => a.label === `master:${A}`)!.session;
    sb.injectFault(A, { kind: 'logout' });
    const messages = await stream.until((all) => {
      const batches = all.filter((m) => m.type === 'batch');
      const failed = batches.some((b) =>
        b.snapshots.some(
          (s) => s.session === session && JSON.stringify(s.value) === '{"failed":"needsRepair"}',
        ),
      );
      const incident = batches.some((b) => b.actors.some((a) => a.machine === 'failover'));
      return failed && incident;
    });
    stream.close();
    const events = messages.flatMap((m) => (m.type === 'batch' ? m.events : []));
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ target: `master:${A}`, type: 'transport.connection.closed' }),
        // Emitted by the master and forwarded by the system: from outside the actors, so no source.
        expect.objectContaining({ target: 'supervisor', type: 'master.failed' }),
      ]),
    );
  });

  it('answers a client that does not ask for text/event-stream with the present as one JSON document', async () => {
    const res = await app.inject({ url: '/inspector/stream' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const hello = res.json() as StreamMessage;
    expect(hello.type).toBe('hello');
    if (hello.type === 'hello') expect(hello.actors.map((a) => a.machine)).toContain('master');
  });

  it('forgets a page that goes away', async () => {
    await waitUntil(() => sb.inspection.bridge.clients === 0); // the pages of the tests before
    const stream = await EventReader.open(`${base}/inspector/stream`);
    await stream.until((m) => m.length >= 1);
    expect(sb.inspection.bridge.clients).toBe(1);
    stream.close();
    await waitUntil(() => sb.inspection.bridge.clients === 0);
  });

  it('does not keep app.close() waiting while a page is connected', async () => {
    const dir2 = tempDir();
    const sb2 = await createSwitchboard(testConfig(dir2, 1), { log, fsync: false });
    const app2 = await buildApp({ switchboard: sb2, log });
    const url = await app2.listen({ host: '127.0.0.1', port: 0 });
    await (await EventReader.open(`${url}/inspector/stream`)).until((m) => m.length >= 1);
    const started = Date.now();
    await app2.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    await sb2.stop(0);
    rmSync(dir2, { recursive: true, force: true });
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
