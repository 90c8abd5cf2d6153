// The HTTP API (README "HTTP API"), a thin layer over the Switchboard object: every route
// validates its input by schema, calls one operation and shapes the answer.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Fault } from '../../actors/sim.transport.ts';
import type { AlertSeverity, AlertState } from '../../machines/monitor.machine.ts';
import { SwitchboardError } from '../errors.ts';
import type { MessageStatus } from '../store/schema.ts';
import type { Switchboard } from '../switchboard.ts';
import { errorBody } from './errors.ts';
import {
  alertParams,
  alertSchema,
  alertsQuery,
  countsSchema,
  dashboardSchema,
  distributionSchema,
  errorSchema,
  failoverSchema,
  faultBody,
  listQuery,
  masterSchema,
  messageSchema,
  phoneParams,
  reportSchema,
  sendBody,
} from './schemas.ts';

type Phone = { Params: { phone: string } };
const errors = { 400: errorSchema, 401: errorSchema, 403: errorSchema, 404: errorSchema, 409: errorSchema };

export function healthRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app) => {
    // The probes are the only public routes: an orchestrator polls them without a token.
    app.get(
      '/healthz',
      {
        config: { access: 'public' },
        schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } },
      },
      async () => ({
        status: 'ok',
      }),
    );
    app.get('/readyz', { config: { access: 'public' } }, async (_request, reply) => {
      const r = sb.readiness();
      if (r.ready) return { status: 'ready', routable: r.routable };
      return reply.status(503).send(errorBody(503, r.code, r.reason));
    });
  };
}

export function masterRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/masters',
      {
        schema: {
          response: {
            200: { type: 'object', properties: { masters: { type: 'array', items: masterSchema } } },
          },
        },
      },
      async () => ({
        masters: sb.getMasterStatus(),
      }),
    );
    app.get<Phone>(
      '/api/masters/:phone',
      { schema: { params: phoneParams, response: { 200: masterSchema, ...errors } } },
      async (request) => sb.getMasterStatus(request.params.phone),
    );
    app.post<Phone>(
      '/api/masters/:phone/reset',
      {
        schema: {
          params: phoneParams,
          response: {
            202: { type: 'object', properties: { phone: { type: 'string' }, status: { type: 'string' } } },
            ...errors,
          },
        },
      },
      async (request, reply) => {
        const phone = sb.resolveMaster(request.params.phone);
        sb.manualReset(phone);
        return reply.status(202).send({ phone, status: 'reset requested' });
      },
    );
    app.post<Phone & { Body: { to?: string } | undefined }>(
      '/api/masters/:phone/failover',
      {
        schema: {
          params: phoneParams,
          body: {
            type: ['object', 'null'],
            additionalProperties: false,
            properties: { to: { type: 'string', minLength: 1, maxLength: 32 } },
          },
          response: { 202: { type: 'object', properties: { failoverId: { type: 'string' } } }, ...errors },
        },
      },
      async (request, reply) =>
        reply.status(202).send(sb.executeFailover(request.params.phone, request.body?.to)),
    );
    app.put<Phone & { Body: { priority: number } }>(
      '/api/masters/:phone/priority',
      {
        schema: {
          params: phoneParams,
          body: {
            type: 'object',
            required: ['priority'],
            additionalProperties: false,
            properties: { priority: { type: 'integer', minimum: 0, maximum: 1_000_000 } },
          },
          response: { 200: masterSchema, ...errors },
        },
      },
      async (request) => sb.updateRoutingPriorities(request.params.phone, request.body.priority),
    );
  };
}

export function messageRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app) => {
    app.post<{
      Body: { to: string; text: string; idempotencyKey?: string };
      Headers: { 'idempotency-key'?: string };
    }>(
      '/api/messages',
      {
        schema: {
          body: sendBody,
          headers: {
            type: 'object',
            properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200 } },
          },
          response: {
            200: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' } } },
            202: { type: 'object', properties: { id: { type: 'string' }, status: { type: 'string' } } },
            ...errors,
            422: errorSchema,
            503: errorSchema,
          },
        },
      },
      async (request, reply) => {
        // The key may come as the body field or the Idempotency-Key header (IETF httpapi draft).
        const header = request.headers['idempotency-key'];
        const bodyKey = request.body.idempotencyKey;
        if (header !== undefined && bodyKey !== undefined && header !== bodyKey) {
          throw new SwitchboardError(
            'SB_ERR_VALIDATION',
            'the Idempotency-Key header and the body field idempotencyKey differ: send one, or the same in both',
            400,
          );
        }
        const idempotencyKey = bodyKey ?? header;
        const result = await sb.send({
          to: request.body.to,
          text: request.body.text,
          ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        });
        return reply.status(result.created ? 202 : 200).send({ id: result.id, status: result.status });
      },
    );
    app.get<{ Params: { id: string } }>(
      '/api/messages/:id',
      {
        schema: {
          params: { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } },
          response: { 200: messageSchema, ...errors },
        },
      },
      async (request) => {
        const m = await sb.getMessage(request.params.id);
        if (!m) throw new SwitchboardError('SB_ERR_UNKNOWN_MESSAGE', `no message ${request.params.id}`, 404);
        return m;
      },
    );
    app.get<{ Querystring: { status?: MessageStatus; master?: string; limit?: number } }>(
      '/api/messages',
      {
        schema: {
          querystring: listQuery,
          response: {
            200: {
              type: 'object',
              properties: { messages: { type: 'array', items: messageSchema }, counts: countsSchema },
            },
            ...errors,
          },
        },
      },
      async (request) => sb.listMessages(request.query),
    );
  };
}

export function balancerRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app) => {
    app.get('/api/balancer', { schema: { response: { 200: distributionSchema } } }, async () =>
      sb.getLoadDistribution(),
    );
    app.put<{ Body: { strategy: string } }>(
      '/api/balancer/strategy',
      {
        schema: {
          body: {
            type: 'object',
            required: ['strategy'],
            additionalProperties: false,
            properties: { strategy: { type: 'string', minLength: 1, maxLength: 64 } },
          },
          response: {
            200: {
              type: 'object',
              properties: {
                strategy: { type: 'string' },
                strategies: { type: 'array', items: { type: 'string' } },
              },
            },
            ...errors,
          },
        },
      },
      async (request) => {
        sb.setStrategy(request.body.strategy);
        return { strategy: request.body.strategy, strategies: sb.getAvailableStrategies() };
      },
    );
  };
}

export function failoverRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app) => {
    app.get(
      '/api/failovers',
      {
        schema: {
          response: {
            200: { type: 'object', properties: { failovers: { type: 'array', items: failoverSchema } } },
          },
        },
      },
      async () => ({
        failovers: sb.getFailovers(),
      }),
    );
  };
}

/** Registered only when a simulated master exists. */
export function simRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.post<Phone & { Body: Fault }>(
      '/api/sim/masters/:phone/fault',
      {
        schema: {
          params: phoneParams,
          body: faultBody,
          response: {
            200: { type: 'object', properties: { phone: { type: 'string' }, fault: { type: 'string' } } },
            ...errors,
          },
        },
      },
      async (request) => {
        const phone = sb.resolveMaster(request.params.phone);
        sb.injectFault(phone, request.body);
        return { phone, fault: request.body.kind };
      },
    );
    app.get(
      '/api/sim/sends',
      {
        schema: {
          response: {
            200: {
              type: 'object',
              properties: {
                sends: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      messageId: { type: 'string' },
                      master: { type: 'string' },
                      to: { type: 'string' },
                      at: { type: 'string' },
                    },
                  },
                },
              },
            },
          },
        },
      },
      async () => ({ sends: sb.simSends().map((s) => ({ ...s, at: new Date(s.at).toISOString() })) }),
    );
  };
}

/** The monitor: health report, dashboard data, alerts, and the Prometheus scrape. */
export function monitorRoutes(sb: Switchboard): FastifyPluginAsync {
  return async (app) => {
    // Read, or public with http.metricsPublic (Prometheus in a trusted network): see http/auth.ts.
    app.get('/metrics', { config: { access: 'metrics' } }, async (_request, reply) => {
      const { contentType, body } = await sb.metrics();
      return reply.type(contentType).send(body);
    });
    app.get('/api/report', { schema: { response: { 200: reportSchema } } }, async () => sb.getHealthReport());
    app.get('/api/dashboard', { schema: { response: { 200: dashboardSchema } } }, async () =>
      sb.getDashboardData(),
    );
    app.get<{ Querystring: { severity?: AlertSeverity; state?: AlertState } }>(
      '/api/alerts',
      {
        schema: {
          querystring: alertsQuery,
          response: {
            200: { type: 'object', properties: { alerts: { type: 'array', items: alertSchema } } },
            ...errors,
          },
        },
      },
      async (request) => ({ alerts: sb.getAlerts(request.query) }),
    );
    app.post<{ Params: { id: string } }>(
      '/api/alerts/:id/ack',
      { schema: { params: alertParams, response: { 200: alertSchema, ...errors } } },
      async (request) => sb.acknowledgeAlert(request.params.id),
    );
  };
}
