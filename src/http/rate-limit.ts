// Rate limiting of writes (POST, PUT, PATCH, DELETE) per client address with @fastify/rate-limit, answered
// 429 SB_ERR_RATE_LIMITED in our error shape. Reads are not limited: they cost no disk write.
import { isIP } from 'node:net';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { SwitchboardError } from '../errors.ts';

export type RateLimitConfig = Config['http']['rateLimit'];

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isLoopbackAddress(ip: string): boolean {
  if (isIP(ip) === 4) return ip.startsWith('127.');
  return ip === '::1' || ip.startsWith('::ffff:127.');
}

/** Registers the limiter before the routes (it hooks each route as it is added); `false` registers nothing. */
export async function installRateLimit(app: FastifyInstance, config: RateLimitConfig): Promise<void> {
  if (config === false || !config.enabled) return;
  const { max, timeWindowMs, allowLoopback } = config;
  await app.register(rateLimit, {
    max,
    timeWindow: timeWindowMs,
    // Not counted: reads, and with allowLoopback the machine's own clients (CLI, load tests, benchmarks).
    allowList: (request: FastifyRequest) =>
      !WRITE_METHODS.has(request.method) || (allowLoopback && isLoopbackAddress(request.ip)),
    errorResponseBuilder: (_request, context) =>
      new SwitchboardError(
        'SB_ERR_RATE_LIMITED',
        `too many writes: at most ${context.max} per ${timeWindowMs / 1000} s from one client; retry in ${context.after}`,
        429,
      ),
  });
}
