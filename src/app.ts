// The Fastify app: plugins first (auth, error handling), then the routes, all sharing the pino logger.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { inspectorRoutes } from '../inspector/routes.ts';
import { installAuth } from './http/auth.ts';
import { frameworkErrors, installErrorHandler } from './http/errors.ts';
import {
  balancerRoutes,
  failoverRoutes,
  healthRoutes,
  masterRoutes,
  messageRoutes,
  simRoutes,
} from './http/routes.ts';
import type { Logger } from './logger.ts';
import type { Switchboard } from './switchboard.ts';

export interface AppOptions {
  switchboard: Switchboard;
  log: Logger;
  /** Bearer token for mutating routes; empty or undefined means none. */
  token?: string | undefined;
  /** Largest request body in bytes (default 64 KiB). */
  bodyLimit?: number;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    // pino's Logger and Fastify's logger type differ only in generics
    loggerInstance: options.log as unknown as FastifyBaseLogger,
    bodyLimit: options.bodyLimit ?? 64 * 1024,
    // Clients may send path params URL-encoded (%2B for +) and that is the documented form.
    routerOptions: { maxParamLength: 64 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    frameworkErrors,
  });
  // The API speaks JSON only: a text/plain body is a 415, not a string that fails the body schema.
  app.removeContentTypeParser('text/plain');
  installErrorHandler(app);
  installAuth(app, options.token || undefined);
  const sb = options.switchboard;
  await app.register(healthRoutes(sb));
  await app.register(masterRoutes(sb));
  await app.register(messageRoutes(sb));
  await app.register(balancerRoutes(sb));
  await app.register(failoverRoutes(sb));
  if (sb.hasSimMasters) await app.register(simRoutes(sb));
  await app.register(inspectorRoutes(sb.inspection.bridge));
  return app;
}
