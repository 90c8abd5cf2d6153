// The inspector's HTTP side: the page at GET /inspector (and /inspector/), its assets under
// /inspector/assets/ (ours and elkjs's browser bundle, nothing from a CDN), the charts at
// /inspector/machines.json and the live stream at /inspector/stream. Read-only: GETs only.
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import type { InspectionBridge } from './bridge.ts';
import type { MachinesResponse } from './protocol.ts';

const PAGE_DIR = join(import.meta.dirname, 'page');
const ELK_BUNDLE = createRequire(import.meta.url).resolve('elkjs/lib/elk.bundled.js');
/** The only files served from the two asset folders. */
const ASSETS = new Set([
  '/app.js',
  '/chart.js',
  '/stream.js',
  '/style.css',
  '/favicon.svg',
  '/elk.bundled.js',
]);

/** The same policy helmet sets for the whole API: the page runs no inline script or style. */
export const INSPECTOR_CSP =
  "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * Routes a bearer-token hook should let through without a token: the page and its assets carry no
 * data (a browser cannot add a header to a navigation). The stream and machines.json stay guarded.
 */
export const INSPECTOR_PUBLIC_ROUTES = ['/inspector', '/inspector/', '/inspector/assets/*'] as const;

export function inspectorRoutes(bridge: InspectionBridge): FastifyPluginAsync {
  return async (app) => {
    const html = readFileSync(join(PAGE_DIR, 'index.html'), 'utf8');
    const streams = new Map<PassThrough, ServerResponse>();

    app.addHook('onSend', async (_request, reply) => {
      reply.header('content-security-policy', INSPECTOR_CSP);
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-content-type-options', 'nosniff');
    });
    // An open stream would keep app.close() waiting for ever, and so would a page that stopped
    // reading (its socket full): end the stream and close the socket; the page reconnects.
    app.addHook('preClose', async () => {
      for (const [stream, res] of streams) {
        stream.end();
        res.socket?.destroy();
      }
    });

    await app.register(fastifyStatic, {
      root: [PAGE_DIR, dirname(ELK_BUNDLE)],
      prefix: '/inspector/assets/',
      index: false,
      list: false,
      decorateReply: false,
      allowedPath: (pathName) => ASSETS.has(pathName),
      cacheControl: true,
      maxAge: 0,
    });

    const page = async (_request: unknown, reply: import('fastify').FastifyReply) =>
      reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
    app.get('/inspector', page);
    app.get('/inspector/', page);

    app.get(
      '/inspector/machines.json',
      async (): Promise<MachinesResponse> => ({ machines: [...bridge.graphs] }),
    );

    app.get('/inspector/stream', (request, reply) => {
      // Large enough for a hello of a big fleet, small enough to bound what one slow page holds.
      const stream = new PassThrough({ highWaterMark: 1 << 20 });
      streams.set(stream, reply.raw);
      stream.once('close', () => streams.delete(stream));
      request.raw.once('close', () => stream.destroy());
      reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('x-accel-buffering', 'no')
        // The socket closes with the stream, so a closing server never waits for a page's keep-alive.
        .header('connection', 'close');
      bridge.connect(stream);
      return reply.send(stream);
    });
  };
}
