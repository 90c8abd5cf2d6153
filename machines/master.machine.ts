// The health lifecycle of one WhatsApp sender number ("master"), as a pure XState v5 machine.
// IO (probes, reconnects, the connection listener) is stubbed here and provided by actors/master.actor.ts.
import { and, assign, emit, fromCallback, fromPromise, not, setup } from 'xstate';

/** Close codes after which reconnecting is pointless or harmful (logged out, banned, replaced ...). */
export const PERMANENT_CLOSE_CODES: ReadonlyMap<number, string> = new Map([
  [401, 'logged out: pair the number again'],
  [402, 'account payment required'],
  [403, 'forbidden (banned): the number needs repair'],
  [405, 'WhatsApp refuses this client version: upgrade switchboard (baileys)'],
  [406, 'account not acceptable (banned or restricted)'],
  [411, 'multi-device mismatch: pair the number again'],
  [440, 'replaced by another session: do not reconnect'],
]);

/**
 * Close codes worth a few reconnects, not more: the same code again after this many attempts
 * since the master was last healthy means retrying will not fix it.
 */
export const LIMITED_CLOSE_CODES: ReadonlyMap<number, string> = new Map([
  [500, 'bad session: reset it, or pair the number again if it keeps failing'],
]);
export const LIMITED_CLOSE_ATTEMPTS = 3;

export type DisconnectKind = 'retryable' | 'permanent';

/**
 * Whether a close code is worth reconnecting for. `history` (the master's last close code and its
 * reconnect attempts since it was healthy) turns a repeated limited code (500) permanent.
 */
export function classifyDisconnect(
  code: number | undefined,
  history?: { lastCloseCode: number | null; recoveryAttempts: number },
): DisconnectKind {
  if (code === undefined) return 'retryable';
  if (PERMANENT_CLOSE_CODES.has(code)) return 'permanent';
  const givesUp =
    LIMITED_CLOSE_CODES.has(code) &&
    history !== undefined &&
    history.lastCloseCode === code &&
    history.recoveryAttempts >= LIMITED_CLOSE_ATTEMPTS;
  return givesUp ? 'permanent' : 'retryable';
}

/** WhatsApp's "restricted" send error: counts like a failed probe. */
export const RESTRICTED_SEND_CODE = 463;

export interface MasterSettings {
  probeIntervalMs: number;
  probeTimeoutMs: number;
  failureThreshold: number;
  recoveryThreshold: number;
  degradedLatencyMs: number;
  recoveryTimeoutMs: number;
  maxRecoveryAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /**
   * Passive outlier detection (Envoy's consecutive_5xx): this many sends in a row that failed or
   * went unacknowledged take the master out of rotation even while its probes succeed; only a
   * successful send resets the run.
   */
  sendFailureThreshold: number;
}

export const DEFAULT_MASTER_SETTINGS: MasterSettings = {
  probeIntervalMs: 5_000,
  probeTimeoutMs: 2_000,
  failureThreshold: 3,
  recoveryThreshold: 2,
  degradedLatencyMs: 1_500,
  recoveryTimeoutMs: 30_000,
  maxRecoveryAttempts: 5,
  backoffBaseMs: 1_000,
  backoffMaxMs: 60_000,
  sendFailureThreshold: 5,
};

export interface MasterInput {
  phone: string;
  settings?: Partial<MasterSettings>;
}

export interface MasterContext {
  phone: string;
  settings: MasterSettings;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  consecutiveSendFailures: number;
  /** Times in a row the master was ejected by its sends; lengthens the backoff before it is tried again. */
  ejections: number;
  /** Reconnect attempts since the master was last healthy (or reset). */
  recoveryAttempts: number;
  /** False until the first successful connect: the very first connect skips probation. */
  connectedOnce: boolean;
  lastLatencyMs: number | null;
  /** Why the master is not healthy, in words an operator can act on; null while healthy. */
  lastError: string | null;
  lastCloseCode: number | null;
}

export type MasterEvent =
  | { type: 'health.probe.succeeded'; latencyMs: number }
  | { type: 'health.probe.failed'; reason: string }
  | { type: 'transport.connection.opened' }
  | { type: 'transport.connection.closed'; code?: number; reason?: string }
  | { type: 'send.succeeded'; latencyMs: number }
  | { type: 'send.failed'; reason: string; code?: number }
  | { type: 'master.reset' }
  /** A manual failover moved this master's work away: it takes nothing until "master.reset". */
  | { type: 'master.drain'; reason?: string };

export type MasterEmitted =
  | { type: 'master.healthy'; phone: string }
  | { type: 'master.degraded'; phone: string; reason: string }
  | { type: 'master.failed'; phone: string; reason: string; permanent: boolean }
  | { type: 'master.recovering'; phone: string; attempt: number }
  | { type: 'master.recovered'; phone: string }
  | { type: 'master.exhausted'; phone: string; attempts: number };

export interface ProbeInput {
  phone: string;
  intervalMs: number;
  timeoutMs: number;
}

export interface ReconnectInput {
  phone: string;
  attempt: number;
}

/**
 * Backoff before reconnect attempt `attempt + 1`: exponential, capped, with a jitter of +-20%
 * derived from the phone number and the attempt, so masters that fail together do not retry in
 * lockstep, and the machine stays a pure function of its events (replayable in tests).
 */
export function backoffDelay(settings: MasterSettings, phone: string, attempt: number): number {
  const exp = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** Math.max(0, attempt - 1));
  let h = attempt * 2654435761;
  for (let i = 0; i < phone.length; i++) h = Math.imul(h ^ phone.charCodeAt(i), 16777619);
  const unit = ((h >>> 0) % 1000) / 1000; // 0 .. 0.999
  return Math.round(exp * (0.8 + 0.4 * unit));
}

function describeClose(code: number | undefined, reason: string | undefined, gaveUp = false): string {
  const advice =
    code === undefined
      ? undefined
      : (PERMANENT_CLOSE_CODES.get(code) ?? (gaveUp ? LIMITED_CLOSE_CODES.get(code) : undefined));
  const head = `connection closed${code === undefined ? '' : ` (${code})`}`;
  if (advice)
    return `${head}${gaveUp ? `, again after ${LIMITED_CLOSE_ATTEMPTS} attempts` : ''}: ${advice}${reason ? ` (${reason})` : ''}`;
  return `${head}${reason ? `: ${reason}` : ''}`;
}

function probeInput({ context }: { context: MasterContext }): ProbeInput {
  return {
    phone: context.phone,
    intervalMs: context.settings.probeIntervalMs,
    timeoutMs: context.settings.probeTimeoutMs,
  };
}

export const masterMachine = setup({
  types: {
    input: {} as MasterInput,
    context: {} as MasterContext,
    events: {} as MasterEvent,
    emitted: {} as MasterEmitted,
  },
  actors: {
    healthProbe: fromCallback<{ type: 'noop' }, ProbeInput>(() => {
      throw new Error('healthProbe is not provided: use createMasterLogic()');
    }),
    connectionListener: fromCallback<{ type: 'noop' }, { phone: string }>(() => {
      throw new Error('connectionListener is not provided: use createMasterLogic()');
    }),
    reconnect: fromPromise<void, ReconnectInput>(() => {
      throw new Error('reconnect is not provided: use createMasterLogic()');
    }),
  },
  delays: {
    recoveryTimeout: ({ context }) => context.settings.recoveryTimeoutMs,
    backoff: ({ context }) =>
      backoffDelay(context.settings, context.phone, context.recoveryAttempts + context.ejections),
  },
  guards: {
    probeIsSlow: ({ context, event }) =>
      event.type === 'health.probe.succeeded' && event.latencyMs > context.settings.degradedLatencyMs,
    /** This failure is the `failureThreshold`-th in a row. */
    failureReachesThreshold: ({ context }) =>
      context.consecutiveFailures + 1 >= context.settings.failureThreshold,
    /** This success is the `recoveryThreshold`-th in a row. */
    successReachesThreshold: ({ context }) =>
      context.consecutiveSuccesses + 1 >= context.settings.recoveryThreshold,
    closeIsPermanent: ({ context, event }) =>
      event.type === 'transport.connection.closed' && classifyDisconnect(event.code, context) === 'permanent',
    closeIsRetryable: not('closeIsPermanent'),
    attemptsExhausted: ({ context }) => context.recoveryAttempts >= context.settings.maxRecoveryAttempts,
    firstConnect: ({ context }) => !context.connectedOnce,
    /** WhatsApp restricted the account (463): counts like a failed probe. */
    sendRestricted: ({ event }) => event.type === 'send.failed' && event.code === RESTRICTED_SEND_CODE,
    restrictedReachesThreshold: and(['sendRestricted', 'failureReachesThreshold']),
    /** This failed send completes a run of `sendFailureThreshold`: eject. */
    sendRunEjects: ({ context }) =>
      context.consecutiveSendFailures + 1 >= context.settings.sendFailureThreshold,
  },
  actions: {
    countProbeFailure: assign({
      consecutiveFailures: ({ context }) => context.consecutiveFailures + 1,
      consecutiveSuccesses: 0,
      lastError: ({ context, event }) => {
        const n = context.consecutiveFailures + 1;
        const why = event.type === 'health.probe.failed' ? event.reason : 'probe failed';
        return `${n} consecutive probe${n === 1 ? '' : 's'} failed (last: ${why})`;
      },
    }),
    countRestricted: assign({
      consecutiveFailures: ({ context }) => context.consecutiveFailures + 1,
      consecutiveSuccesses: 0,
      consecutiveSendFailures: ({ context }) => context.consecutiveSendFailures + 1,
      lastError: ({ event }) =>
        `send restricted by WhatsApp (${RESTRICTED_SEND_CODE}): ${event.type === 'send.failed' ? event.reason : ''}`,
    }),
    eject: assign({
      consecutiveSendFailures: 0,
      ejections: ({ context }) => context.ejections + 1,
      lastError: ({ context, event }) =>
        `${context.consecutiveSendFailures + 1} sends in a row failed or went unacknowledged (last: ${event.type === 'send.failed' ? event.reason : 'unknown'})`,
    }),
    countSendFailure: assign({
      consecutiveSendFailures: ({ context }) => context.consecutiveSendFailures + 1,
    }),
    countSendSuccess: assign({ consecutiveSendFailures: 0, ejections: 0 }),
    recordDrain: assign({
      lastError: ({ event }) =>
        event.type === 'master.drain' ? (event.reason ?? 'drained by a manual failover') : 'drained',
    }),
    countGoodProbe: assign({
      consecutiveFailures: 0,
      consecutiveSuccesses: ({ context }) => context.consecutiveSuccesses + 1,
      lastLatencyMs: ({ event }) => (event.type === 'health.probe.succeeded' ? event.latencyMs : null),
    }),
    countSlowProbe: assign({
      consecutiveFailures: 0,
      consecutiveSuccesses: 0,
      lastLatencyMs: ({ event }) => (event.type === 'health.probe.succeeded' ? event.latencyMs : null),
      lastError: ({ context, event }) =>
        `slow probe: ${event.type === 'health.probe.succeeded' ? event.latencyMs : '?'} ms > ${context.settings.degradedLatencyMs} ms`,
    }),
    recordClose: assign({
      lastCloseCode: ({ event }) =>
        event.type === 'transport.connection.closed' ? (event.code ?? null) : null,
      lastError: ({ context, event }) =>
        event.type === 'transport.connection.closed'
          ? describeClose(
              event.code,
              event.reason,
              event.code !== undefined &&
                LIMITED_CLOSE_CODES.has(event.code) &&
                classifyDisconnect(event.code, context) === 'permanent',
            )
          : 'connection closed',
    }),
    recordAttemptFailure: assign({
      lastError: ({ context, event }) => {
        const detail =
          event.type === 'health.probe.failed'
            ? event.reason
            : 'error' in event && event.error instanceof Error
              ? event.error.message
              : 'error' in event
                ? String(event.error)
                : `no connection within ${context.settings.recoveryTimeoutMs} ms`;
        return `reconnect attempt ${context.recoveryAttempts} failed: ${detail}`;
      },
    }),
    startAttempt: assign({
      recoveryAttempts: ({ context }) => context.recoveryAttempts + 1,
      consecutiveSuccesses: 0,
    }),
    markConnected: assign({ connectedOnce: true, consecutiveFailures: 0, consecutiveSuccesses: 0 }),
    markHealthy: assign({
      consecutiveFailures: 0,
      recoveryAttempts: 0,
      lastError: null,
      lastCloseCode: null,
    }),
    resetForManualRecovery: assign({ recoveryAttempts: 0, consecutiveFailures: 0, consecutiveSuccesses: 0 }),
    emitHealthy: emit(({ context }) => ({ type: 'master.healthy' as const, phone: context.phone })),
    emitRecovered: emit(({ context }) => ({ type: 'master.recovered' as const, phone: context.phone })),
    emitDegraded: emit(({ context }) => ({
      type: 'master.degraded' as const,
      phone: context.phone,
      reason: context.lastError ?? 'degraded',
    })),
    emitFailed: emit(({ context }) => ({
      type: 'master.failed' as const,
      phone: context.phone,
      reason: context.lastError ?? 'failed',
      permanent:
        context.lastCloseCode !== null && classifyDisconnect(context.lastCloseCode, context) === 'permanent',
    })),
    emitRecovering: emit(({ context }) => ({
      type: 'master.recovering' as const,
      phone: context.phone,
      attempt: context.recoveryAttempts,
    })),
    emitExhausted: emit(({ context }) => ({
      type: 'master.exhausted' as const,
      phone: context.phone,
      attempts: context.recoveryAttempts,
    })),
  },
}).createMachine({
  id: 'master',
  context: ({ input }) => ({
    phone: input.phone,
    settings: { ...DEFAULT_MASTER_SETTINGS, ...input.settings },
    consecutiveFailures: 0,
    consecutiveSuccesses: 0,
    consecutiveSendFailures: 0,
    ejections: 0,
    recoveryAttempts: 0,
    connectedOnce: false,
    lastLatencyMs: null,
    lastError: null,
    lastCloseCode: null,
  }),
  // The first connect is a recovery like any other: nothing is routed to the master until it is up.
  initial: 'recovering',
  invoke: { id: 'connection', src: 'connectionListener', input: ({ context }) => ({ phone: context.phone }) },
  on: {
    // A permanent close wins from any state: the number is logged out, banned or replaced.
    'transport.connection.closed': {
      guard: 'closeIsPermanent',
      target: '.failed.needsRepair',
      actions: 'recordClose',
    },
    'master.drain': { target: '.failed.drained', actions: 'recordDrain' },
  },
  states: {
    healthy: {
      tags: ['routable'],
      entry: ['markHealthy', 'emitHealthy'],
      invoke: {
        id: 'probe',
        src: 'healthProbe',
        input: probeInput,
      },
      on: {
        'health.probe.succeeded': [
          { guard: 'probeIsSlow', target: 'degraded', actions: 'countSlowProbe' },
          { actions: 'countGoodProbe' },
        ],
        'health.probe.failed': [
          {
            guard: 'failureReachesThreshold',
            target: 'failed.backoff',
            actions: 'countProbeFailure',
          },
          { target: 'degraded', actions: 'countProbeFailure' },
        ],
        'send.succeeded': { actions: 'countSendSuccess' },
        'send.failed': [
          { guard: 'sendRunEjects', target: 'failed.backoff', actions: 'eject' },
          { guard: 'restrictedReachesThreshold', target: 'failed.backoff', actions: 'countRestricted' },
          { guard: 'sendRestricted', target: 'degraded', actions: 'countRestricted' },
          { actions: 'countSendFailure' },
        ],
        'transport.connection.closed': {
          guard: 'closeIsRetryable',
          target: 'recovering',
          actions: 'recordClose',
        },
      },
    },
    degraded: {
      tags: ['routable'],
      entry: 'emitDegraded',
      invoke: {
        id: 'probe',
        src: 'healthProbe',
        input: probeInput,
      },
      on: {
        'health.probe.succeeded': [
          { guard: 'probeIsSlow', actions: 'countSlowProbe' },
          {
            guard: 'successReachesThreshold',
            target: 'healthy',
            actions: 'countGoodProbe',
          },
          { actions: 'countGoodProbe' },
        ],
        'health.probe.failed': [
          {
            guard: 'failureReachesThreshold',
            target: 'failed.backoff',
            actions: 'countProbeFailure',
          },
          { actions: 'countProbeFailure' },
        ],
        'send.succeeded': { actions: 'countSendSuccess' },
        'send.failed': [
          { guard: 'sendRunEjects', target: 'failed.backoff', actions: 'eject' },
          { guard: 'restrictedReachesThreshold', target: 'failed.backoff', actions: 'countRestricted' },
          { guard: 'sendRestricted', actions: 'countRestricted' },
          { actions: 'countSendFailure' },
        ],
        'transport.connection.closed': {
          guard: 'closeIsRetryable',
          target: 'recovering',
          actions: 'recordClose',
        },
      },
    },
    failed: {
      entry: 'emitFailed',
      initial: 'backoff',
      on: {
        'master.reset': { target: 'recovering', actions: 'resetForManualRecovery' },
      },
      states: {
        // Waiting to try again; entering here is what starts a failover.
        backoff: {
          always: { guard: 'attemptsExhausted', target: 'exhausted' },
          after: { backoff: { target: '#master.recovering' } },
        },
        // Every allowed attempt failed: only a manual reset ("master.reset") brings it back.
        exhausted: { entry: 'emitExhausted' },
        // Logged out, banned, replaced: never reconnects by itself.
        needsRepair: {},
        // A manual failover moved its work away: it stays out of rotation until "master.reset".
        drained: {},
      },
    },
    recovering: {
      initial: 'connecting',
      states: {
        connecting: {
          entry: ['startAttempt', 'emitRecovering'],
          invoke: {
            id: 'reconnect',
            src: 'reconnect',
            input: ({ context }) => ({ phone: context.phone, attempt: context.recoveryAttempts }),
            onDone: [
              { guard: 'firstConnect', target: '#master.healthy', actions: 'markConnected' },
              { target: 'probation', actions: 'markConnected' },
            ],
            onError: { target: '#master.failed.backoff', actions: 'recordAttemptFailure' },
          },
          after: {
            recoveryTimeout: { target: '#master.failed.backoff', actions: 'recordAttemptFailure' },
          },
          on: {
            'transport.connection.closed': { guard: 'closeIsRetryable', actions: 'recordClose' },
          },
        },
        // Connected again, not yet trusted: `recoveryThreshold` good probes in a row (HAProxy's `rise`).
        probation: {
          invoke: {
            id: 'probe',
            src: 'healthProbe',
            input: probeInput,
          },
          on: {
            'health.probe.succeeded': [
              // A slow answer is no proof of health: the run of good probes starts again.
              { guard: 'probeIsSlow', actions: 'countSlowProbe' },
              {
                guard: 'successReachesThreshold',
                target: '#master.healthy',
                actions: ['countGoodProbe', 'emitRecovered'],
              },
              { actions: 'countGoodProbe' },
            ],
            'health.probe.failed': { target: '#master.failed.backoff', actions: 'recordAttemptFailure' },
            'transport.connection.closed': {
              guard: 'closeIsRetryable',
              target: '#master.failed.backoff',
              actions: 'recordClose',
            },
          },
        },
      },
    },
  },
});

export type MasterMachine = typeof masterMachine;
export type MasterStateValue = 'healthy' | 'degraded' | 'failed' | 'recovering';
