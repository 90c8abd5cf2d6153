// One access decision for every route, keyed on the route's `config.access`: a route is guarded unless
// it opts out by name. Tokens are compared as SHA-256 digests with timingSafeEqual, so neither their
// length nor a prefix leaks through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { SwitchboardError } from '../errors.ts';
import { errorBody } from './errors.ts';

/**
 * A route's access level, set as route option `config: { access }`:
 * - `public`: anyone, token or not (only the probes /healthz and /readyz);
 * - `read`: the write token or the read token (the default for GET and HEAD routes);
 * - `write`: the write token only (the default for every other method);
 * - `metrics`: like `read`, or anyone when config `http.metricsPublic` is true.
 * A route without `access` takes the default of its method, so a new route is guarded.
 */
export type Access = 'public' | 'read' | 'write' | 'metrics';
const ACCESS: readonly Access[] = ['public', 'read', 'write', 'metrics'];

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
  }
}

const READ_METHODS = new Set(['GET', 'HEAD']);

export interface Tokens {
  /** SWITCHBOARD_TOKEN: every route. Empty or undefined: no token, every route is open. */
  token?: string | undefined;
  /** SWITCHBOARD_READ_TOKEN: read routes only; needs `token`. */
  readToken?: string | undefined;
}

/** Refuses token settings that cannot mean what the operator wants (thrown at start, exit code 2). */
export function checkTokens({ token, readToken }: Tokens): void {
  if (readToken && !token) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      'SWITCHBOARD_READ_TOKEN is set without SWITCHBOARD_TOKEN: set both (a read token alone would leave writes open), or neither',
    );
  }
  if (readToken && readToken === token) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      'SWITCHBOARD_READ_TOKEN equals SWITCHBOARD_TOKEN: a read-only token must differ from the write token',
    );
  }
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** The access a request needs: its route's, or `read` when no route matched (see `guard`). */
function accessOf(request: FastifyRequest): Access {
  if (request.is404) return 'read';
  return request.routeOptions.config.access ?? (READ_METHODS.has(request.method) ? 'read' : 'write');
}

export interface Guard {
  /**
   * Answers 401 or 403 and returns true when the request may not reach `access`; returns false when
   * it may go on. A request for a route that does not exist needs a token like a read, so an anonymous
   * caller cannot tell an existing route from a missing one (both 401).
   */
  refuse(request: FastifyRequest, reply: FastifyReply, access?: Access): boolean;
}

export function createGuard(tokens: Tokens, options: { metricsPublic?: boolean } = {}): Guard {
  checkTokens(tokens);
  if (!tokens.token) return { refuse: () => false };
  const write = digest(tokens.token);
  const read = tokens.readToken ? digest(tokens.readToken) : undefined;
  return {
    refuse(request, reply, access = accessOf(request)) {
      if (access === 'public' || (access === 'metrics' && options.metricsPublic)) return false;
      const header = request.headers.authorization;
      const presented =
        typeof header === 'string' && header.startsWith('Bearer ') ? digest(header.slice(7)) : undefined;
      // Both comparisons always run, so the answer time does not say which token was close.
      const isWrite = presented !== undefined && timingSafeEqual(presented, write);
      const isRead = presented !== undefined && read !== undefined && timingSafeEqual(presented, read);
      if (isWrite) return false;
      if (isRead && access !== 'write') return false;
      if (isRead) {
        reply
          .status(403)
          .send(
            errorBody(
              403,
              'SB_ERR_FORBIDDEN',
              'the read-only token may not change anything: use SWITCHBOARD_TOKEN',
            ),
          );
        return true;
      }
      reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send(
          errorBody(401, 'SB_ERR_UNAUTHORIZED', 'this route needs Authorization: Bearer <SWITCHBOARD_TOKEN>'),
        );
      return true;
    },
  };
}

/**
 * Installs the guard as one onRequest hook (it runs for unmatched routes too) and checks every route's
 * `access` when it is added, so a misspelt level stops the start instead of guarding nothing.
 */
export function installAuth(app: FastifyInstance, guard: Guard): void {
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (access !== undefined && !ACCESS.includes(access)) {
      throw new Error(
        `route ${route.method} ${route.url}: config.access "${access}" is not one of ${ACCESS.join(', ')}`,
      );
    }
  });
  app.addHook('onRequest', async (request, reply) => {
    if (guard.refuse(request, reply)) return reply;
  });
}
