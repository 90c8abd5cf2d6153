// The Fastify app: plugins first (request ids, security headers, access, rate limit, error handling),
// then the routes, all sharing the pino logger.
import helmet from '@fastify/helmet';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { inspectorRoutes } from '../inspector/routes.ts';
import type { Config } from './config.ts';
import { createGuard, installAuth } from './http/auth.ts';
import { clientErrorHandler, frameworkErrors, installErrorHandler } from './http/errors.ts';
import { installRateLimit } from './http/rate-limit.ts';
import { genReqId, REQUEST_ID_HEADER } from './http/request-id.ts';
import {
  balancerRoutes,
  failoverRoutes,
  healthRoutes,
  masterRoutes,
  messageRoutes,
  monitorRoutes,
  simRoutes,
} from './http/routes.ts';
import { webhookRoutes } from './http/webhook-routes.ts';
import type { Logger } from './logger.ts';
import type { Switchboard } from './switchboard.ts';

export interface AppOptions {
  switchboard: Switchboard;
  log: Logger;
  /** SWITCHBOARD_TOKEN: needed by every route but the probes; empty or undefined means none. */
  token?: string | undefined;
  /** SWITCHBOARD_READ_TOKEN: may read (GET, HEAD, metrics) and nothing else; needs `token`. */
  readToken?: string | undefined;
  /** Largest request body in bytes (default 64 KiB). */
  bodyLimit?: number;
  /** Largest request head (request line and headers) in bytes (default 16 KiB, Node's own default). */
  maxHeaderBytes?: number;
  /** metricsPublic, rateLimit, trustProxy; default: the switchboard's config. */
  http?: Pick<Config['http'], 'metricsPublic' | 'rateLimit' | 'trustProxy'>;
}

/** The inspector page is served from here with every asset local and no inline script. */
const helmetOptions = {
  contentSecurityPolicy: {
    useDefaults: true,
    directives: {
      defaultSrc: ["'self'"],
      // The service speaks plain HTTP (TLS ends at a proxy, or it is loopback): upgrading its own
      // asset URLs to https would break the page.
      upgradeInsecureRequests: null,
    },
  },
};

/**
 * helmet's headers for these options, computed once: with no nonces they are the same for every
 * answer, while @fastify/helmet builds them again per request (8% of a durable accept's CPU in the
 * store bench's profile). Read from a throwaway instance with the plugin, minus what Fastify itself
 * sets, so they are exactly helmet's.
 */
async function securityHeaders(): Promise<Record<string, string>> {
  const headersOf = async (withHelmet: boolean) => {
    const probe = Fastify();
    if (withHelmet) await probe.register(helmet, helmetOptions);
    probe.get('/', async () => 'ok');
    const res = await probe.inject({ method: 'GET', url: '/' });
    await probe.close();
    return res.headers;
  };
  const bare = await headersOf(false);
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(await headersOf(true)))
    if (!(name in bare) && typeof value === 'string') out[name] = value;
  return out;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const sb = options.switchboard;
  const http = options.http ?? sb.config.http;
  const guard = createGuard(
    { token: options.token || undefined, readToken: options.readToken || undefined },
    { metricsPublic: http.metricsPublic },
  );
  const app: FastifyInstance = Fastify({
    // pino's Logger and Fastify's logger type differ only in generics
    loggerInstance: options.log as unknown as FastifyBaseLogger,
    // Two info lines per request would cost more than the accept itself at thousands a second:
    // requests are logged below, at debug when they succeed.
    disableRequestLogging: true,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    http: { maxHeaderSize: options.maxHeaderBytes ?? 16 * 1024 },
    clientErrorHandler,
    genReqId,
    trustProxy: http.trustProxy === false ? false : http.trustProxy,
    // Clients may send path params URL-encoded (%2B for +) and that is the documented form.
    routerOptions: { maxParamLength: 64 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    // The router refuses a broken %-escape or an over-long param before any hook runs: the guard
    // answers first, so an anonymous caller learns nothing about the routes from these either.
    frameworkErrors: (err, request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id);
      if (!guard.refuse(request, reply, 'read')) frameworkErrors(err, request, reply);
    },
  });
  // The API speaks JSON only: a text/plain body is a 415, not a string that fails the body schema.
  app.removeContentTypeParser('text/plain');
  installErrorHandler(app);
  app.addHook('onRequest', async (request) => {
    const log = request.log as unknown as Logger;
    if (log.isLevelEnabled('debug')) log.debug({ req: request }, 'incoming request');
  });
  app.addHook('onResponse', async (request, reply) => {
    const log = request.log as unknown as Logger;
    const level = reply.statusCode >= 400 ? 'info' : 'debug';
    if (!log.isLevelEnabled(level)) return;
    log[level]({ res: reply, responseTime: Math.round(reply.elapsedTime) }, 'request completed');
  });
  // Hooks run in the order they are added: the id and the security headers are on every answer,
  // 401s and 403s included; the rate limit (a route-level hook) counts only requests that got past the guard.
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
  const security = await securityHeaders();
  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(security);
  });
  installAuth(app, guard);
  await installRateLimit(app, http.rateLimit);
  await app.register(healthRoutes(sb));
  await app.register(masterRoutes(sb));
  await app.register(messageRoutes(sb));
  await app.register(balancerRoutes(sb));
  await app.register(failoverRoutes(sb));
  await app.register(monitorRoutes(sb));
  await app.register(webhookRoutes(sb));
  if (sb.hasSimMasters) await app.register(simRoutes(sb));
  await app.register(inspectorRoutes(sb.inspection.bridge));
  return app;
}
