// Webhook routes (README "Webhooks"): list, add and remove endpoints, and the parked events. Adding and
// removing need the write token; reads never show a secret.
import type { FastifyPluginAsync } from 'fastify';
import { webhookEndpointSchema } from '../config.ts';
import { SwitchboardError } from '../errors.ts';
import type { Switchboard } from '../switchboard.ts';
import { errorSchema } from './schemas.ts';

const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

const webhookSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    url: { type: 'string' },
    events: { type: 'array', items: { type: 'string' } },
    signed: { type: 'boolean' },
    includeText: { type: 'boolean' },
    source: { type: 'string', enum: ['config', 'api'] },
    createdAt: { type: ['string', 'null'] },
    pending: { type: 'integer' },
    parked: { type: 'integer' },
  },
} as const;

const deliverySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    webhook: { type: 'string' },
    event: {
      type: 'object',
      properties: { id: { type: 'string' }, type: { type: 'string' }, timestamp: { type: 'string' } },
    },
    state: { type: 'string' },
    attempts: { type: 'integer' },
    lastError: { type: 'string' },
    nextAttemptAt: { type: 'string' },
    parkedAt: { type: 'string' },
  },
} as const;

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 100 } },
} as const;

/** The body checked by the config's own schema, so the API and the file refuse the same things, naming the field. */
function parseEndpoint(body: unknown) {
  const result = webhookEndpointSchema.safeParse(body);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
    return `${field.replace(/^\./, '') || '(body)'}: ${issue.message}`;
  });
  throw new SwitchboardError('SB_ERR_VALIDATION', problems.join('; '), 400);
}

export function webhookRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/webhooks',
      {
        schema: {
          response: {
            200: { type: 'object', properties: { webhooks: { type: 'array', items: webhookSchema } } },
          },
        },
      },
      async () => ({ webhooks: sb.getWebhooks() }),
    );
    app.post(
      '/api/webhooks',
      { schema: { body: { type: 'object' }, response: { 201: webhookSchema, ...errors, 503: errorSchema } } },
      async (request, reply) => reply.status(201).send(await sb.addWebhook(parseEndpoint(request.body))),
    );
    app.delete<{ Params: { id: string } }>(
      '/api/webhooks/:id',
      {
        schema: {
          params: idParams,
          response: {
            200: { type: 'object', properties: { id: { type: 'string' }, dropped: { type: 'integer' } } },
            ...errors,
          },
        },
      },
      async (request) => sb.removeWebhook(request.params.id),
    );
    app.get<{ Querystring: { webhook?: string } }>(
      '/api/webhooks/parked',
      {
        schema: {
          querystring: {
            type: 'object',
            additionalProperties: false,
            properties: { webhook: { type: 'string', maxLength: 100 } },
          },
          response: {
            200: { type: 'object', properties: { deliveries: { type: 'array', items: deliverySchema } } },
            ...errors,
          },
        },
      },
      async (request) => ({ deliveries: sb.getWebhookDeliveries('parked', request.query.webhook) }),
    );
    app.post<{ Params: { id: string } }>(
      '/api/webhooks/parked/:id/retry',
      { schema: { params: idParams, response: { 202: deliverySchema, ...errors } } },
      async (request, reply) => reply.status(202).send(await sb.retryWebhookDelivery(request.params.id)),
    );
    app.delete<{ Params: { id: string } }>(
      '/api/webhooks/parked/:id',
      { schema: { params: idParams, response: { 204: { type: 'null' }, ...errors } } },
      async (request, reply) => {
        await sb.discardWebhookDelivery(request.params.id);
        return reply.status(204).send();
      },
    );
  };
}
