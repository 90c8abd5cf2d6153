// Request ids: every log line of a request carries `reqId`, and every answer says it in `x-request-id`,
// so a caller's report and the log meet. A caller's own id (from a proxy or a client) is kept only if
// it is short and plain, because it goes into the log as it is.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const SAFE_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Fastify's `genReqId`: the incoming x-request-id if safe, else a random UUID. */
export function genReqId(req: IncomingMessage): string {
  const incoming = req.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && SAFE_ID.test(incoming) ? incoming : randomUUID();
}
