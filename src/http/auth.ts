// Mutating routes need `Authorization: Bearer <token>` when a token is set. The comparison does not
// leak the token's length or prefix through timing.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { errorBody } from './errors.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export function installAuth(app: FastifyInstance, token: string | undefined): void {
  if (!token) return;
  const expected = digest(token);
  app.addHook('onRequest', async (request, reply) => {
    if (SAFE.has(request.method)) return;
    const header = request.headers.authorization;
    const presented =
      typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : undefined;
    if (presented === undefined || !timingSafeEqual(digest(presented), expected)) {
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send(
          errorBody(401, 'SB_ERR_UNAUTHORIZED', 'this route needs Authorization: Bearer <SWITCHBOARD_TOKEN>'),
        );
    }
  });
}
