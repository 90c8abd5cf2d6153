// The service's configuration: a JSON file validated with zod, defaults in the README ("Configuration").

// A bad file is refused with the file and the field named.
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { MasterSettings } from '../machines/master.machine.ts';
import { SwitchboardError } from './errors.ts';
import { countryOf, normalizePhone } from './phone.ts';
import { STRATEGY_NAMES } from './routing/registry.ts';
import { WEBHOOK_EVENT_TYPES } from './webhooks/events.ts';

const phone = z.string().transform((value, ctx) => {
  const result = normalizePhone(value);
  if (!result.ok) {
    ctx.addIssue({ code: 'custom', message: result.reason });
    return z.NEVER;
  }
  return result.phone;
});

const positiveInt = z.number().int().positive();

export const masterConfigSchema = z
  .strictObject({
    phone,
    priority: z.number().int().min(0).default(1),
    /** ISO 3166 country code the number serves (geolocation routing); defaults to the number's own. */
    region: z
      .string()
      .regex(/^[A-Z]{2}$/, 'expected a two-letter ISO country code such as "AE"')
      .optional(),
    weight: positiveInt.default(1),
    ratePerMinute: positiveInt.default(60),
    /** A new number's ramp: from 10% of ratePerMinute to all of it over this many minutes after each start. */
    warmUpMinutes: z.number().min(0).default(0),
    transport: z.enum(['sim', 'baileys']).default('sim'),
  })
  .transform((m) => ({ ...m, region: m.region ?? countryOf(m.phone) ?? 'ZZ' }));

/**
 * Writes per client address and time window; `false` or `enabled: false` turns the limit off. The default
 * (6,000 a minute) is far above what a fleet sends (60 a minute per master by default) and catches a
 * runaway or hostile client; loopback clients are not counted unless `allowLoopback` is false.
 */
const rateLimitSchema = z
  .union([
    z.literal(false),
    z.strictObject({
      enabled: z.boolean().default(true),
      max: positiveInt.default(6_000),
      timeWindowMs: positiveInt.default(60_000),
      allowLoopback: z.boolean().default(true),
    }),
  ])
  .prefault({});

const proxyAddress = z.string().refine((value) => {
  const [ip = '', bits, ...rest] = value.split('/');
  const version = isIP(ip);
  if (!version || rest.length) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (version === 4 ? 32 : 128);
}, 'expected an IP address or a CIDR such as "127.0.0.1" or "10.0.0.0/8"');

/** A webhook receiver's URL: http or https, no credentials in it (they would be logged and listed). */
const webhookUrl = z.string().refine((value) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  return (url.protocol === 'http:' || url.protocol === 'https:') && !url.username && !url.password;
}, 'expected an http:// or https:// URL without user:password');

/** A Standard Webhooks secret: `whsec_` then base64 of 24 to 64 random bytes. */
const webhookSecret = z.string().refine((value) => {
  const m = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(value);
  if (!m) return false;
  const bytes = Buffer.from(m[1]!, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}, 'expected "whsec_" followed by base64 of 24 to 64 random bytes (e.g. whsec_$(openssl rand -base64 32))');

export const webhookEndpointSchema = z.strictObject({
  url: webhookUrl,
  events: z
    .array(
      z.enum([...WEBHOOK_EVENT_TYPES, '*'], {
        error: `expected one of ${WEBHOOK_EVENT_TYPES.join(', ')} or "*"`,
      }),
    )
    .min(1, 'at least one event type (or "*")'),
  secret: webhookSecret.optional(),
  /** Message events carry the text (read when the event is delivered, so retention still applies). */
  includeText: z.boolean().default(false),
});
export type WebhookEndpointConfig = z.output<typeof webhookEndpointSchema>;

export const configSchema = z.strictObject({
  masters: z
    .array(masterConfigSchema)
    .min(1, 'at least one master is needed')
    .superRefine((masters, ctx) => {
      const seen = new Set<string>();
      masters.forEach((m, i) => {
        if (seen.has(m.phone))
          ctx.addIssue({ code: 'custom', path: [i, 'phone'], message: `duplicate ${m.phone}` });
        seen.add(m.phone);
      });
    })
    .prefault(() => defaultMasters()),
  health: z
    .strictObject({
      intervalMs: positiveInt.default(5_000),
      timeoutMs: positiveInt.default(2_000),
      failureThreshold: positiveInt.default(3),
      recoveryThreshold: positiveInt.default(2),
      degradedLatencyMs: positiveInt.default(1_500),
    })
    .prefault({}),
  recovery: z
    .strictObject({
      timeoutMs: positiveInt.default(30_000),
      maxAttempts: positiveInt.default(5),
      backoffBaseMs: positiveInt.default(1_000),
      backoffMaxMs: positiveInt.default(60_000),
    })
    .prefault({}),
  balancer: z
    .strictObject({
      strategy: z
        .string()
        .refine((name) => (STRATEGY_NAMES as readonly string[]).includes(name), {
          error: (issue) => `unknown strategy "${String(issue.input)}"; valid: ${STRATEGY_NAMES.join(', ')}`,
        })
        .default('round-robin'),
      affinity: z.boolean().default(true),
    })
    .prefault({}),
  dispatch: z
    .strictObject({
      sendTimeoutMs: positiveInt.default(10_000),
      maxInFlight: positiveInt.default(4),
      /** A message goes on the wire at most this many times; then it fails ("may have been delivered"). */
      maxAttempts: positiveInt.default(3),
      /** Sends in a row that fail or go unacknowledged before a master leaves rotation. */
      failureThreshold: positiveInt.default(5),
    })
    .prefault({}),
  /** The monitor: reports, alert thresholds, history (README "Monitoring"). */
  monitor: z
    .strictObject({
      /** A health report is logged and added to the history this often. */
      reportIntervalMs: positiveInt.default(60_000),
      /** Balance quality is sampled this often (the imbalance alert follows it). */
      sampleIntervalMs: positiveInt.default(10_000),
      /** Reports kept in the history (1,440: a day of minutes). */
      historySize: positiveInt.max(100_000).default(1_440),
      /** Resolved alerts kept; the oldest beyond this are dropped. */
      keepResolvedAlerts: positiveInt.default(1_000),
      /** Messages waiting for a master: a warning alert at this many, critical at queueCritical. */
      queueWarning: positiveInt.default(1_000),
      queueCritical: positiveInt.default(10_000),
      /** Balance quality (0-100) under this opens a warning (never under the priority strategy). */
      balanceQualityWarning: z.number().int().min(0).max(100).default(50),
    })
    .superRefine((m, ctx) => {
      if (m.queueCritical <= m.queueWarning)
        ctx.addIssue({
          code: 'custom',
          path: ['queueCritical'],
          message: `must be above queueWarning (${m.queueWarning})`,
        });
    })
    .prefault({}),
  http: z
    .strictObject({
      host: z.string().min(1).default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(7420),
      /** GET /metrics without a token (Prometheus inside a trusted network); otherwise it needs one. */
      metricsPublic: z.boolean().default(false),
      rateLimit: rateLimitSchema,
      /** Addresses or CIDRs of reverse proxies whose X-Forwarded-For names the client; false: none. */
      trustProxy: z
        .union([z.literal(false), z.array(proxyAddress).min(1)], {
          error: 'expected false or a list of proxy addresses such as ["127.0.0.1"]',
        })
        .default(false),
    })
    .prefault({}),
  dataDir: z.string().min(1).default('./data'),
  /** Settings of the Baileys transport (masters with transport "baileys"). */
  baileys: z
    .strictObject({
      /** Level of Baileys' own log records (they go through switchboard's logger). */
      logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
      /** Watchdog: a connect not `open` after this long is abandoned (Baileys can hang on an HTTP error). */
      openTimeoutMs: positiveInt.default(20_000),
      /** Baileys' keep-alive ping; it closes the socket after ~interval + 5 s without a frame. */
      keepAliveIntervalMs: positiveInt.default(30_000),
    })
    .prefault({}),
  /** How long personal data is kept (README "Security"). */
  retention: z
    .strictObject({
      /** A finished message's text is removed this long after it finished (0.01 h at least). */
      textHours: z.number().min(0.01).default(24),
    })
    .prefault({}),
  /** The journal and its checkpoints (README "How it keeps messages"). */
  store: z
    .strictObject({
      /** fsync every commit group (turning it off trades a power loss's last commits for speed). */
      fsync: z.boolean().default(true),
      /** Start a new journal segment past this size. */
      segmentMiB: z.number().positive().max(1024).default(32),
      /** Fold closed segments into switchboard.json once they hold this much. */
      checkpointMiB: z.number().positive().max(4096).default(64),
      /** And at least this often while anything was written. */
      checkpointEveryMinutes: z.number().positive().default(10),
    })
    .prefault({}),
  /** Receivers of events (README "Webhooks"); more can be added over the API. */
  webhooks: z
    .array(webhookEndpointSchema)
    .superRefine((hooks, ctx) => {
      const seen = new Set<string>();
      hooks.forEach((h, i) => {
        if (seen.has(h.url))
          ctx.addIssue({ code: 'custom', path: [i, 'url'], message: `duplicate ${h.url}` });
        seen.add(h.url);
      });
    })
    .default([]),
  /** How events are delivered to every webhook. */
  webhookDelivery: z
    .strictObject({
      /** A request not answered in this long counts as failed (and is retried). */
      timeoutMs: positiveInt.default(10_000),
      /** Attempts before an event is parked (visible at GET /api/webhooks/parked). */
      maxAttempts: positiveInt.max(100).default(10),
      /** Retry backoff: base * 2^(attempt-1), capped, with jitter. */
      backoffBaseMs: positiveInt.default(1_000),
      backoffMaxMs: positiveInt.default(300_000),
      /** Requests in flight per endpoint at most. */
      concurrency: positiveInt.max(64).default(4),
    })
    .prefault({}),
  sim: z
    .strictObject({ latencyMs: z.number().int().min(0).default(50), seed: z.number().int().default(1) })
    .prefault({}),
  inspector: z
    .strictObject({
      /** Recent events kept for inspector pages that connect or reconnect. */
      bufferSize: positiveInt.max(100_000).default(2_000),
      /** Also feed Stately's inspector (@statelyai/inspect): a local bridge on statelyPort, needs the internet. */
      stately: z.boolean().default(false),
      statelyPort: z.number().int().min(1).max(65_535).default(8080),
    })
    .prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type MasterConfig = z.output<typeof masterConfigSchema>;

export function defaultMasters(): z.input<typeof masterConfigSchema>[] {
  return [
    { phone: '+971501234567', priority: 1, region: 'AE' },
    { phone: '+971501234568', priority: 2, region: 'AE' },
    { phone: '+14155552671', priority: 3, region: 'US' },
  ].map((m) => ({ ...m, weight: 1, ratePerMinute: 60, transport: 'sim' as const }));
}

/** Validates a config object; `source` names where it came from in the error. */
export function parseConfig(input: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.length
      ? issue.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
          .join('')
          .replace(/^\./, '')
      : '(root)';
    return `${field}: ${issue.message}`;
  });
  throw new SwitchboardError('SB_ERR_CONFIG', `invalid ${source}: ${problems.join('; ')}`);
}

export function loadConfigFile(file: string): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SwitchboardError('SB_ERR_CONFIG', `cannot read config file ${file}: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `config file ${file} is not valid JSON: ${(err as Error).message}`,
    );
  }
  return parseConfig(json, `config file ${file}`);
}

/** The master machine's settings from the config's health and recovery sections. */
export function masterSettingsFrom(config: Config): MasterSettings {
  return {
    probeIntervalMs: config.health.intervalMs,
    probeTimeoutMs: config.health.timeoutMs,
    failureThreshold: config.health.failureThreshold,
    recoveryThreshold: config.health.recoveryThreshold,
    degradedLatencyMs: config.health.degradedLatencyMs,
    recoveryTimeoutMs: config.recovery.timeoutMs,
    maxRecoveryAttempts: config.recovery.maxAttempts,
    backoffBaseMs: config.recovery.backoffBaseMs,
    backoffMaxMs: config.recovery.backoffMaxMs,
    sendFailureThreshold: config.dispatch.failureThreshold,
  };
}
