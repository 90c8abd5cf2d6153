// The inspector's HTTP side: the page at GET /inspector (and /inspector/), its assets under
// /inspector/assets/ (ours and elkjs's browser bundle, nothing from a CDN), the charts at
// /inspector/machines.json and the live stream at /inspector/stream. Read-only: GETs only.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { InspectionBridge } from './bridge.ts';
import type { MachinesResponse } from './protocol.ts';

const PAGE_DIR = join(import.meta.dirname, 'page');
const ELK_BUNDLE = createRequire(import.meta.url).resolve('elkjs/lib/elk.bundled.js');

/** The only files served under /inspector/assets/, read once: there is no path to traverse. */
const ASSET_FILES: Record<string, { file: string; type: string }> = {
  'app.js': { file: join(PAGE_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'chart.js': { file: join(PAGE_DIR, 'chart.js'), type: 'text/javascript; charset=utf-8' },
  'stream.js': { file: join(PAGE_DIR, 'stream.js'), type: 'text/javascript; charset=utf-8' },
  'style.css': { file: join(PAGE_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
  'favicon.svg': { file: join(PAGE_DIR, 'favicon.svg'), type: 'image/svg+xml' },
  'elk.bundled.js': { file: ELK_BUNDLE, type: 'text/javascript; charset=utf-8' },
};

/**
 * Stricter than the app-wide policy helmet sets (which allows inline styles): the page runs no
 * inline script or style at all, and nothing may frame it.
 */
export const INSPECTOR_CSP =
  "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The page and its assets open without a token: a browser cannot add a header to a navigation, and
 * they carry no data. The page then sends the token (from #token=... or a form) to the stream and
 * the API, which stay guarded like every read.
 */
const PUBLIC = { config: { access: 'public' as const } };

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function load(file: string, type: string): Asset {
  const body = readFileSync(file);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

function send(request: FastifyRequest, reply: FastifyReply, asset: Asset) {
  reply.header('etag', asset.etag).header('cache-control', 'no-cache').type(asset.type);
  if (request.headers['if-none-match'] === asset.etag) return reply.status(304).send();
  return reply.send(asset.body);
}

export function inspectorRoutes(bridge: InspectionBridge): FastifyPluginAsync {
  return async (app) => {
    const page = load(join(PAGE_DIR, 'index.html'), 'text/html; charset=utf-8');
    const assets = new Map(Object.entries(ASSET_FILES).map(([name, a]) => [name, load(a.file, a.type)]));
    const streams = new Map<PassThrough, ServerResponse>();

    app.addHook('onSend', async (_request, reply) => {
      reply.header('content-security-policy', INSPECTOR_CSP);
    });
    // An open stream would keep app.close() waiting for ever, and so would a page that stopped
    // reading (its socket full): end the stream and close the socket; the page reconnects.
    app.addHook('preClose', async () => {
      for (const [stream, res] of streams) {
        stream.end();
        res.socket?.destroy();
      }
    });

    app.get('/inspector', PUBLIC, async (request, reply) => send(request, reply, page));
    app.get('/inspector/', PUBLIC, async (request, reply) => send(request, reply, page));
    app.get<{ Params: { file: string } }>('/inspector/assets/:file', PUBLIC, async (request, reply) => {
      const asset = assets.get(request.params.file);
      if (!asset) return reply.callNotFound();
      return send(request, reply, asset);
    });

    app.get(
      '/inspector/machines.json',
      async (): Promise<MachinesResponse> => ({ machines: [...bridge.graphs] }),
    );

    app.get('/inspector/stream', async (request, reply) => {
      // Content negotiation: the page (and EventSource) ask for server-sent events; anything else
      // gets the present as one JSON document (the stream's first message) and the answer ends.
      if (!/\btext\/event-stream\b/.test(request.headers.accept ?? '')) return bridge.hello();
      // Large enough for a hello of a big fleet, small enough to bound what one slow page holds.
      const stream = new PassThrough({ highWaterMark: 1 << 20 });
      streams.set(stream, reply.raw);
      stream.once('close', () => streams.delete(stream));
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
