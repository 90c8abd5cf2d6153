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
