// The one error handler: Fastify's error shape {statusCode, error, message} plus a stable `code`.
// A 5xx never leaks internals: the caller gets a generic message, the log gets the error.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { SwitchboardError } from '../errors.ts';

export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
}

export function errorBody(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code };
}

/** Fastify's own client errors (bad JSON, wrong content type, body too large ...) keep their status. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'SB_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_BODY_TOO_LARGE: 'SB_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'SB_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_JSON_BODY: 'SB_ERR_VALIDATION',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'SB_ERR_VALIDATION',
  FST_ERR_BAD_URL: 'SB_ERR_BAD_URL',
  FST_ERR_MAX_PARAM_LENGTH: 'SB_ERR_URL_TOO_LONG',
};

function clientError(fe: FastifyError, reply: FastifyReply, status: number) {
  const code = (fe.code && FASTIFY_CODES[fe.code]) ?? 'SB_ERR_BAD_REQUEST';
  return reply.status(status).send(errorBody(status, code, fe.message));
}

/**
 * Fastify's `frameworkErrors` option: the router answers a broken %-escape or an over-long path
 * param before any handler runs, and without this in its own shape with an FST_ERR_ code.
 */
export function frameworkErrors(err: FastifyError, _request: unknown, reply: FastifyReply): void {
  const status = typeof err.statusCode === 'number' && err.statusCode < 500 ? err.statusCode : 400;
  clientError(err, reply, status);
}

export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | SwitchboardError | Error, request, reply) => {
    if (err instanceof SwitchboardError) {
      if (err.statusCode >= 500 && err.code !== 'SB_ERR_STORE_UNAVAILABLE')
        request.log.error({ err }, err.message);
      // These 5xx say something the caller can act on (retry later) and hold nothing internal.
      const plain = err.code === 'SB_ERR_STOPPING' || err.code === 'SB_ERR_STORE_UNAVAILABLE';
      const message = err.statusCode >= 500 && !plain ? 'internal error' : err.message;
      return reply.status(err.statusCode).send(errorBody(err.statusCode, err.code, message));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      const where = fe.validationContext ?? 'request';
      const what = fe.message.replace(/^(body|querystring|params|headers)\/?/, '').trim();
      // Ajv's enum message does not name the allowed values; the caller needs them to fix the request.
      const allowed = fe.validation[0]?.params?.allowedValues;
      const values = Array.isArray(allowed) ? `: ${allowed.join(', ')}` : '';
      return reply.status(400).send(errorBody(400, 'SB_ERR_VALIDATION', `${where}: ${what}${values}`));
    }
    const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
    if (status >= 400 && status < 500) return clientError(fe, reply, status);
    request.log.error({ err }, 'request failed');
    return reply.status(500).send(errorBody(500, 'SB_ERR_INTERNAL', 'internal error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .status(404)
      .send(errorBody(404, 'SB_ERR_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refused the request before Fastify saw it (headers
 * over the limit, a request timeout, bytes that are not HTTP). The answer keeps our shape and code and
 * is never a 5xx; the socket is closed because the parser cannot find where the next request starts.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message]: [number, string, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'SB_ERR_HEADERS_TOO_LARGE', 'request headers are over the size limit']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'SB_ERR_TIMEOUT', 'the request took too long to arrive']
        : [400, 'SB_ERR_BAD_REQUEST', 'the request is not valid HTTP'];
  const body = JSON.stringify(errorBody(status, code, message));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
