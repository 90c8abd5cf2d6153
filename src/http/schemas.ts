// JSON Schemas of the API's requests and responses (Fastify validates the first, serialises the second).
import { FAULT_KINDS } from '../../actors/sim.transport.ts';
import { MESSAGE_STATUSES } from '../store/schema.ts';

const nullable = (type: string) => ({ type: [type, 'null'] });

export const errorSchema = {
  type: 'object',
  properties: {
    statusCode: { type: 'integer' },
    error: { type: 'string' },
    message: { type: 'string' },
    code: { type: 'string' },
  },
} as const;

export const phoneParams = {
  type: 'object',
  required: ['phone'],
  properties: { phone: { type: 'string', minLength: 1, maxLength: 32 } },
} as const;

export const masterSchema = {
  type: 'object',
  properties: {
    phone: { type: 'string' },
    state: { type: 'string', enum: ['healthy', 'degraded', 'failed', 'recovering'] },
    detail: nullable('string'),
    reason: nullable('string'),
    transport: { type: 'string' },
    paired: nullable('boolean'),
    priority: { type: 'integer' },
    region: { type: 'string' },
    weight: { type: 'integer' },
    ratePerMinute: { type: 'integer' },
    consecutiveFailures: { type: 'integer' },
    recoveryAttempts: { type: 'integer' },
    load: {
      type: 'object',
      properties: {
        inFlight: { type: 'integer' },
        queued: { type: 'integer' },
        completed: { type: 'integer' },
        failed: { type: 'integer' },
        avgLatencyMs: nullable('number'),
      },
    },
    since: { type: 'string' },
  },
} as const;

export const messageSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    to: { type: 'string' },
    text: nullable('string'),
    status: { type: 'string', enum: MESSAGE_STATUSES },
    master: nullable('string'),
    attempts: { type: 'integer' },
    createdAt: { type: 'string' },
    sentAt: { type: 'string' },
    finishedAt: { type: 'string' },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'string' },
          status: { type: 'string' },
          master: { type: 'string' },
          note: { type: 'string' },
        },
      },
    },
  },
} as const;

export const countsSchema = {
  type: 'object',
  properties: Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, { type: 'integer' }])),
} as const;

export const sendBody = {
  type: 'object',
  required: ['to', 'text'],
  additionalProperties: false,
  properties: {
    to: { type: 'string', minLength: 1, maxLength: 32 },
    text: { type: 'string', minLength: 1, maxLength: 4096 },
    idempotencyKey: { type: 'string', minLength: 1, maxLength: 200 },
  },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { type: 'string', enum: MESSAGE_STATUSES },
    master: { type: 'string', minLength: 1, maxLength: 32 },
    limit: { type: 'integer', minimum: 1, maximum: 10_000, default: 100 },
  },
} as const;

export const failoverSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    from: { type: 'string' },
    to: nullable('string'),
    reason: { type: 'string' },
    manual: { type: 'boolean' },
    status: { type: 'string' },
    startedAt: { type: 'string' },
    completedAt: { type: 'string' },
    moved: { type: 'object', properties: { messages: { type: 'integer' }, contacts: { type: 'integer' } } },
    note: { type: 'string' },
  },
} as const;

export const distributionSchema = {
  type: 'object',
  properties: {
    strategy: { type: 'string' },
    strategies: { type: 'array', items: { type: 'string' } },
    affinity: { type: 'boolean' },
    distribution: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          phone: { type: 'string' },
          share: { type: 'number' },
          inFlight: { type: 'integer' },
          completed: { type: 'integer' },
          failed: { type: 'integer' },
          avgLatencyMs: nullable('number'),
          routable: { type: 'boolean' },
          priority: { type: 'integer' },
          weight: { type: 'integer' },
          region: { type: 'string' },
          ratePerMinute: { type: 'integer' },
          tokens: { type: 'number' },
        },
      },
    },
    quality: { type: 'number' },
    affinityMoves: { type: 'integer' },
  },
} as const;

export const faultBody = {
  type: 'object',
  required: ['kind'],
  additionalProperties: false,
  properties: {
    kind: { type: 'string', enum: FAULT_KINDS },
    latencyMs: { type: 'integer', minimum: 0, maximum: 600_000 },
    errorRate: { type: 'number', minimum: 0, maximum: 1 },
  },
} as const;

export const alertSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    key: { type: 'string' },
    severity: { type: 'string', enum: ['critical', 'warning', 'info'] },
    state: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] },
    message: { type: 'string' },
    master: { type: 'string' },
    createdAt: { type: 'string' },
    acknowledgedAt: { type: 'string' },
    resolvedAt: { type: 'string' },
  },
} as const;

export const alertsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    severity: { type: 'string', enum: ['critical', 'warning', 'info'] },
    state: { type: 'string', enum: ['open', 'acknowledged', 'resolved'] },
  },
} as const;

export const alertParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

const percentilesSchema = {
  type: ['object', 'null'],
  properties: { p50: { type: 'number' }, p95: { type: 'number' }, p99: { type: 'number' } },
} as const;

const severityCounts = {
  type: 'object',
  properties: { critical: { type: 'integer' }, warning: { type: 'integer' }, info: { type: 'integer' } },
} as const;

const fleetReportSchema = {
  type: 'object',
  properties: {
    masters: { type: 'integer' },
    routable: { type: 'integer' },
    availability: { type: 'number' },
    availabilitySinceStart: { type: 'number' },
    since: { type: 'string' },
    queueLength: { type: 'integer' },
    storeAvailable: { type: 'boolean' },
    sends: {
      type: 'object',
      properties: {
        sent: { type: 'integer' },
        failed: { type: 'integer' },
        unknown: { type: 'integer' },
        successRate: nullable('number'),
      },
    },
    latencyMs: percentilesSchema,
  },
} as const;

const masterReportSchema = {
  type: 'object',
  properties: {
    phone: { type: 'string' },
    state: { type: 'string' },
    detail: nullable('string'),
    routable: { type: 'boolean' },
    since: { type: 'string' },
    inFlight: { type: 'integer' },
    queueLength: { type: 'integer' },
    completed: { type: 'integer' },
    failed: { type: 'integer' },
    unknown: { type: 'integer' },
    latencyMs: percentilesSchema,
    consecutiveFailures: { type: 'integer' },
    recoveryAttempts: { type: 'integer' },
    availability: { type: 'number' },
    availabilitySinceStart: { type: 'number' },
    reason: nullable('string'),
  },
} as const;

const trendSchema = {
  type: 'object',
  properties: {
    samples: { type: 'integer' },
    first: nullable('number'),
    last: nullable('number'),
    min: nullable('number'),
    max: nullable('number'),
    mean: nullable('number'),
    slopePerHour: nullable('number'),
    direction: nullable('string'),
  },
} as const;

const trendsSchema = {
  type: 'object',
  properties: Object.fromEntries(
    [
      'healthScore',
      'availability',
      'queueLength',
      'latencyP95Ms',
      'sendSuccess',
      'balanceQuality',
      'alertsOpen',
      'failovers',
    ].map((k) => [k, trendSchema]),
  ),
} as const;

export const reportSchema = {
  type: 'object',
  properties: {
    generatedAt: { type: 'string' },
    window: {
      type: 'object',
      properties: { from: { type: 'string' }, to: { type: 'string' }, ms: { type: 'integer' } },
    },
    healthScore: { type: 'integer' },
    scoreParts: {
      type: 'object',
      properties: Object.fromEntries(
        ['capacity', 'availability', 'sendSuccess', 'queue', 'balance'].map((k) => [k, { type: 'number' }]),
      ),
    },
    fleet: fleetReportSchema,
    masters: { type: 'array', items: masterReportSchema },
    failovers: {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        completed: { type: 'integer' },
        rolledBack: { type: 'integer' },
        running: { type: 'integer' },
        successRate: nullable('number'),
        inWindow: {
          type: 'object',
          properties: {
            started: { type: 'integer' },
            completed: { type: 'integer' },
            rolledBack: { type: 'integer' },
          },
        },
        durationMs: percentilesSchema,
        detectionMs: percentilesSchema,
      },
    },
    balance: { type: 'object', properties: { strategy: { type: 'string' }, quality: { type: 'number' } } },
    alerts: {
      type: 'object',
      properties: {
        open: severityCounts,
        acknowledged: { type: 'integer' },
        resolved: { type: 'integer' },
      },
    },
    history: {
      type: 'object',
      properties: {
        samples: { type: 'integer' },
        from: nullable('string'),
        intervalMs: { type: 'integer' },
      },
    },
    trends: trendsSchema,
  },
} as const;

export const dashboardSchema = {
  type: 'object',
  properties: {
    generatedAt: { type: 'string' },
    healthScore: { type: 'integer' },
    fleet: fleetReportSchema,
    masters: { type: 'array', items: masterReportSchema },
    alerts: {
      type: 'object',
      properties: { counts: severityCounts, active: { type: 'array', items: alertSchema } },
    },
    failovers: {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        successRate: nullable('number'),
        durationMs: percentilesSchema,
        detectionMs: percentilesSchema,
        recent: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              from: { type: 'string' },
              to: nullable('string'),
              status: { type: 'string' },
              startedAt: { type: 'string' },
            },
          },
        },
      },
    },
    balance: {
      type: 'object',
      properties: {
        strategy: { type: 'string' },
        quality: { type: 'number' },
        shares: {
          type: 'array',
          items: { type: 'object', properties: { phone: { type: 'string' }, share: { type: 'number' } } },
        },
      },
    },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          at: { type: 'string' },
          healthScore: { type: 'integer' },
          availability: { type: 'number' },
          routable: { type: 'integer' },
          queueLength: { type: 'integer' },
          latencyP95Ms: nullable('number'),
          sent: { type: 'integer' },
          failed: { type: 'integer' },
          balanceQuality: { type: 'number' },
          alertsOpen: { type: 'integer' },
        },
      },
    },
    trends: trendsSchema,
  },
} as const;
