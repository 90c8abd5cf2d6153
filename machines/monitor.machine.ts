// The monitor as a pure XState v5 machine: it folds the facts the masters, the supervisor, the
// balancer and the store report into timelines (availability, detection, failover durations) and
// alerts, one per condition, opened, escalated, acknowledged and resolved as the facts change.
// Every fact carries its time (`at`), so the machine never reads a clock; IO is in actors/monitor.actor.ts.
import { enqueueActions, setup } from 'xstate';

export type AlertSeverity = 'critical' | 'warning' | 'info';
export type AlertState = 'open' | 'acknowledged' | 'resolved';
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['critical', 'warning', 'info'];
export const ALERT_STATES: readonly AlertState[] = ['open', 'acknowledged', 'resolved'];

/** An alert; replaced (never mutated) on every change, so the store can hold it as it is. */
export interface Alert {
  readonly id: string;
  /** The condition: one alert that is not resolved per key. */
  readonly key: string;
  readonly severity: AlertSeverity;
  readonly state: AlertState;
  readonly message: string;
  readonly master?: string;
  readonly createdAt: number;
  readonly acknowledgedAt?: number;
  readonly resolvedAt?: number;
}

export interface MonitorThresholds {
  /** Messages waiting for a master: a warning alert at this many ... */
  queueWarning: number;
  /** ... and critical at this many. */
  queueCritical: number;
  /** Balance quality (0-100) under this: a warning (not under the priority strategy, which concentrates by design). */
  balanceQualityWarning: number;
  /** Resolved alerts kept (the oldest beyond this are dropped). */
  keepResolved: number;
}

export const DEFAULT_THRESHOLDS: MonitorThresholds = {
  queueWarning: 1_000,
  queueCritical: 10_000,
  balanceQualityWarning: 50,
  keepResolved: 1_000,
};

/** What a master's snapshot says, reduced to what the monitor needs (sent only when it changes). */
export interface MasterObservation {
  phone: string;
  state: 'healthy' | 'degraded' | 'failed' | 'recovering';
  /** The sub-state: connecting, probation, backoff, exhausted, needsRepair, drained; or null. */
  detail: string | null;
  routable: boolean;
  consecutiveFailures: number;
  consecutiveSendFailures: number;
  recoveryAttempts: number;
  lastError: string | null;
}

export interface MasterTrack extends MasterObservation {
  /** When the master entered its current top-level state. */
  since: number;
  /** Time routable since the monitor started (up to `lastAt`). */
  upMs: number;
  lastAt: number;
  /** It was routable once: before that, not connecting yet is start-up, not trouble. */
  everRoutable: boolean;
  /** It was routable or failed once (a fleet still on its first connects is not "unroutable"). */
  settled: boolean;
  /** The first sign of the current trouble (a failed probe or send, or leaving rotation); null when fine. */
  troubleSince: number | null;
  /** The current trouble's detection time was recorded. */
  detected: boolean;
  /** Latches: set by a fact, cleared when the master is routable again. */
  failedAt: number | null;
  ejected: string | null;
  rolledBack: { id: string; note: string } | null;
  failedOver: { id: string; to: string | null; messages: number; contacts: number } | null;
}

export interface MonitorInput {
  startedAt: number;
  masters: string[];
  thresholds?: Partial<MonitorThresholds>;
  /** Alerts kept by the store (a restart keeps them). */
  alerts?: Alert[];
  /** Number of the next alert (ids stay unique across restarts). */
  nextAlert?: number;
  storeAvailable?: boolean;
  strategy?: string;
}

export interface FailoverFigures {
  started: number;
  completed: number;
  rolledBack: number;
  /** Incidents running: id -> source and start. */
  running: Record<string, { from: string; at: number }>;
  /** Start to completion of completed incidents (the last SAMPLE_LIMIT). */
  durationsMs: number[];
  /** First sign of trouble to "failed" (the last SAMPLE_LIMIT). */
  detectionsMs: number[];
}

export interface MonitorContext {
  thresholds: MonitorThresholds;
  startedAt: number;
  /**
   * Every master's track, at its index in `slot`. An array because a fact replaces one track: a copy
   * of a 1,000-key record (V8 dictionary mode) took ~0.4 ms, a copy of the array takes ~1 us.
   */
  masters: MasterTrack[];
  /** Phone -> index in `masters`; shared by successive contexts, replaced only for a phone never seen. */
  slot: Record<string, number>;
  fleet: { routable: number; upMs: number; lastAt: number };
  alerts: Record<string, Alert>;
  /** key -> id of its alert that is not resolved. */
  active: Record<string, string>;
  nextAlert: number;
  queueLength: number;
  balance: { quality: number; strategy: string };
  store: { available: boolean; reason: string | null };
  failovers: FailoverFigures;
}

export type MonitorEvent =
  | ({ type: 'master.observed'; at: number } & MasterObservation)
  | { type: 'failover.started'; at: number; id: string; from: string; reason: string; manual: boolean }
  | {
      type: 'failover.completed';
      at: number;
      id: string;
      from: string;
      to: string | null;
      moved: { messages: number; contacts: number };
    }
  | { type: 'failover.rolledBack'; at: number; id: string; from: string; note: string | null }
  | { type: 'store.unavailable'; at: number; reason: string }
  | { type: 'store.recovered'; at: number }
  | { type: 'queue.measured'; at: number; length: number }
  | { type: 'balance.measured'; at: number; quality: number; strategy: string }
  /** Re-evaluates every condition (at start, after restoring alerts). */
  | { type: 'monitor.evaluate'; at: number }
  | { type: 'alert.acknowledge'; at: number; id: string };

export type MonitorEmitted =
  | { type: 'alert.opened'; alert: Alert }
  | { type: 'alert.escalated'; alert: Alert; previous: AlertSeverity }
  | { type: 'alert.acknowledged'; alert: Alert }
  | { type: 'alert.resolved'; alert: Alert }
  /** A resolved alert dropped beyond `keepResolved`. */
  | { type: 'alert.pruned'; id: string };

/** Timeline samples kept for percentiles. */
export const SAMPLE_LIMIT = 1_000;

/** The master's failover reason or last error says a run of sends took it out of rotation. */
export const EJECTION_PATTERN = /sends in a row failed or went unacknowledged/;

const FLEET = 'fleet';
const RANK: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };

/** Which band a queue length is in: the actor sends "queue.measured" only when the band changes. */
export function queueBand(length: number, t: Pick<MonitorThresholds, 'queueWarning' | 'queueCritical'>) {
  return length >= t.queueCritical ? 2 : length >= t.queueWarning ? 1 : 0;
}

export function alertNumber(id: string): number {
  const n = Number(/^al-(\d+)$/.exec(id)?.[1]);
  return Number.isFinite(n) ? n : 0;
}

function newTrack(phone: string, at: number): MasterTrack {
  return {
    phone,
    state: 'recovering',
    detail: 'connecting',
    routable: false,
    consecutiveFailures: 0,
    consecutiveSendFailures: 0,
    recoveryAttempts: 0,
    lastError: null,
    since: at,
    upMs: 0,
    lastAt: at,
    everRoutable: false,
    settled: false,
    troubleSince: null,
    detected: false,
    failedAt: null,
    ejected: null,
    rolledBack: null,
    failedOver: null,
  };
}

/** A restored alert that is not resolved re-arms the latch it came from, so a restart keeps it open. */
function relatch(track: MasterTrack, alert: Alert): MasterTrack {
  const kind = alert.key.slice(0, alert.key.indexOf(':'));
  switch (kind) {
    case 'master.failed':
      return { ...track, failedAt: alert.createdAt };
    case 'master.ejected':
      return { ...track, ejected: alert.message };
    case 'failover.rolledBack':
      return { ...track, rolledBack: { id: '', note: alert.message } };
    case 'failover.completed':
      return { ...track, failedOver: { id: '', to: null, messages: 0, contacts: 0 } };
    default:
      return track;
  }
}

export function initialContext(input: MonitorInput): MonitorContext {
  const at = input.startedAt;
  const alerts: Record<string, Alert> = {};
  const active: Record<string, string> = {};
  let next = input.nextAlert ?? 1;
  const masters: MasterTrack[] = [];
  const slot: Record<string, number> = {};
  for (const phone of input.masters) {
    if (slot[phone] !== undefined) continue;
    slot[phone] = masters.length;
    masters.push(newTrack(phone, at));
  }
  for (const a of input.alerts ?? []) {
    alerts[a.id] = a;
    next = Math.max(next, alertNumber(a.id) + 1);
    if (a.state === 'resolved') continue;
    active[a.key] = a.id;
    const i = a.master === undefined ? undefined : slot[a.master];
    if (i !== undefined) masters[i] = relatch(masters[i]!, a);
  }
  return {
    thresholds: { ...DEFAULT_THRESHOLDS, ...input.thresholds },
    startedAt: at,
    masters,
    slot,
    fleet: { routable: 0, upMs: 0, lastAt: at },
    alerts,
    active,
    nextAlert: next,
    queueLength: 0,
    balance: { quality: 100, strategy: input.strategy ?? 'round-robin' },
    store: { available: input.storeAvailable ?? true, reason: null },
    failovers: { started: 0, completed: 0, rolledBack: 0, running: {}, durationsMs: [], detectionsMs: [] },
  };
}

// --- conditions ------------------------------------------------------------------------------

interface Wanted {
  severity: AlertSeverity;
  message: string;
  master?: string;
}

/** The alerts one master's track calls for, by key. */
export function masterConditions(t: MasterTrack): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  const p = t.phone;
  const master = { master: p };
  if (t.failedAt !== null)
    out.set(`master.failed:${p}`, {
      severity: 'critical',
      message: `master ${p} failed: ${t.lastError ?? 'out of rotation'}`,
      ...master,
    });
  if (t.rolledBack)
    out.set(`failover.rolledBack:${p}`, {
      severity: 'critical',
      message: t.rolledBack.id
        ? `failover ${t.rolledBack.id} of ${p} rolled back: ${t.rolledBack.note}; it is retried while the master is down`
        : t.rolledBack.note,
      ...master,
    });
  if (t.state === 'failed' && t.detail === 'exhausted')
    out.set(`master.exhausted:${p}`, {
      severity: 'warning',
      message: `master ${p} used all ${t.recoveryAttempts} recovery attempts: reset it (POST /api/masters/${encodeURIComponent(p)}/reset)`,
      ...master,
    });
  if (t.state === 'failed' && t.detail === 'needsRepair')
    out.set(`master.needsRepair:${p}`, {
      severity: 'warning',
      message: `master ${p} needs repair: ${t.lastError ?? 'it will not reconnect by itself'}`,
      ...master,
    });
  if (t.ejected !== null)
    out.set(`master.ejected:${p}`, {
      severity: 'warning',
      message: `master ${p} is out of rotation: ${t.ejected}`,
      ...master,
    });
  if (t.failedOver)
    out.set(`failover.completed:${p}`, {
      severity: 'info',
      message: t.failedOver.id
        ? t.failedOver.to
          ? `failover ${t.failedOver.id} moved ${t.failedOver.messages} messages and ${t.failedOver.contacts} contacts from ${p} to ${t.failedOver.to}`
          : `failover ${t.failedOver.id} of ${p} found no routable backup: ${t.failedOver.messages} messages wait in the queue`
        : `a failover moved the work of ${p} away`,
      ...master,
    });
  return out;
}

/** The alerts the fleet as a whole calls for, by key. */
export function fleetConditions(c: MonitorContext): Map<string, Wanted> {
  const out = new Map<string, Wanted>();
  const t = c.thresholds;
  if (c.fleet.routable === 0 && c.masters.some((m) => m.settled))
    out.set('fleet.unroutable', {
      severity: 'critical',
      message: 'no master is routable: messages wait in the queue',
    });
  if (!c.store.available)
    out.set('store.unavailable', {
      severity: 'critical',
      message: `the store cannot write (${c.store.reason ?? 'unknown'}): new messages are refused with 503 until it can`,
    });
  const band = queueBand(c.queueLength, t);
  if (band > 0)
    out.set('queue.length', {
      severity: band === 2 ? 'critical' : 'warning',
      message: `${c.queueLength} messages wait for a master (warning at ${t.queueWarning}, critical at ${t.queueCritical})`,
    });
  if (c.balance.strategy !== 'priority' && c.balance.quality < t.balanceQualityWarning)
    out.set('balance.imbalance', {
      severity: 'warning',
      message: `balance quality ${c.balance.quality} is under ${t.balanceQualityWarning} (strategy ${c.balance.strategy}): traffic does not follow the weights`,
    });
  return out;
}

function scopeOf(key: string): string {
  const i = key.indexOf(':');
  return i < 0 ? FLEET : key.slice(i + 1);
}

/**
 * Brings the alerts of the given scopes (a phone, or 'fleet') in line with their conditions: opens
 * what is wanted and has no alert, escalates one whose condition got worse (an acknowledged alert
 * opens again: it is news), resolves what is no longer wanted. Pure: returns the new alerts and
 * what to tell.
 */
export function reconcile(
  c: MonitorContext,
  scopes: readonly string[],
  at: number,
): { context: MonitorContext; emitted: MonitorEmitted[] } {
  const wanted = new Map<string, Wanted>();
  for (const scope of scopes) {
    const track = scope === FLEET ? undefined : trackOf(c, scope);
    const conditions =
      scope === FLEET ? fleetConditions(c) : track ? masterConditions(track) : new Map<string, Wanted>();
    for (const [k, w] of conditions) wanted.set(k, w);
  }
  const inScope = new Set(scopes);
  const emitted: MonitorEmitted[] = [];
  let alerts = c.alerts;
  let active = c.active;
  let next = c.nextAlert;
  const put = (a: Alert) => {
    if (alerts === c.alerts) alerts = { ...alerts };
    alerts[a.id] = a;
  };
  for (const [key, id] of Object.entries(c.active)) {
    if (!inScope.has(scopeOf(key)) || wanted.has(key)) continue;
    const before = alerts[id];
    if (active === c.active) active = { ...active };
    delete active[key];
    if (!before) continue;
    const alert: Alert = { ...before, state: 'resolved', resolvedAt: at };
    put(alert);
    emitted.push({ type: 'alert.resolved', alert });
  }
  for (const [key, w] of wanted) {
    const id = active[key];
    const existing = id === undefined ? undefined : alerts[id];
    if (!existing) {
      const alert: Alert = {
        id: `al-${next++}`,
        key,
        severity: w.severity,
        state: 'open',
        message: w.message,
        ...(w.master === undefined ? {} : { master: w.master }),
        createdAt: at,
      };
      put(alert);
      if (active === c.active) active = { ...active };
      active[key] = alert.id;
      emitted.push({ type: 'alert.opened', alert });
    } else if (RANK[w.severity] > RANK[existing.severity]) {
      const { acknowledgedAt: _, ...rest } = existing;
      const alert: Alert = { ...rest, severity: w.severity, state: 'open', message: w.message };
      put(alert);
      emitted.push({ type: 'alert.escalated', alert, previous: existing.severity });
    }
  }
  let context: MonitorContext =
    alerts === c.alerts && next === c.nextAlert ? c : { ...c, alerts, active, nextAlert: next };
  if (emitted.some((e) => e.type === 'alert.resolved')) {
    const pruned = prune(context);
    context = pruned.context;
    emitted.push(...pruned.emitted);
  }
  return { context, emitted };
}

function prune(c: MonitorContext): { context: MonitorContext; emitted: MonitorEmitted[] } {
  const resolved = Object.values(c.alerts).filter((a) => a.state === 'resolved');
  const excess = resolved.length - c.thresholds.keepResolved;
  if (excess <= 0) return { context: c, emitted: [] };
  resolved.sort((a, b) => (a.resolvedAt ?? 0) - (b.resolvedAt ?? 0) || alertNumber(a.id) - alertNumber(b.id));
  const alerts = { ...c.alerts };
  const emitted: MonitorEmitted[] = [];
  for (const a of resolved.slice(0, excess)) {
    delete alerts[a.id];
    emitted.push({ type: 'alert.pruned', id: a.id });
  }
  return { context: { ...c, alerts }, emitted };
}

// --- facts -----------------------------------------------------------------------------------

function pushSample(samples: number[], value: number): number[] {
  const out =
    samples.length >= SAMPLE_LIMIT ? samples.slice(samples.length - SAMPLE_LIMIT + 1) : [...samples];
  out.push(value);
  return out;
}

/** Time-weighted availability: routable time accumulates up to each fact. */
function advanceFleet(c: MonitorContext, at: number): MonitorContext['fleet'] {
  const f = c.fleet;
  const dt = Math.max(0, at - f.lastAt);
  return { routable: f.routable, upMs: f.upMs + (f.routable > 0 ? dt : 0), lastAt: Math.max(f.lastAt, at) };
}

function observe(c: MonitorContext, e: Extract<MonitorEvent, { type: 'master.observed' }>): MonitorContext {
  const before = trackOf(c, e.phone) ?? newTrack(e.phone, e.at);
  const at = e.at;
  const up = before.routable ? Math.max(0, at - before.lastAt) : 0;
  const everRoutable = before.everRoutable || e.routable;
  const failedNow = e.state === 'failed' && e.detail !== 'drained';
  const trouble = everRoutable && (e.consecutiveFailures > 0 || e.consecutiveSendFailures > 0 || !e.routable);
  let troubleSince = trouble ? (before.troubleSince ?? at) : null;
  let detected = trouble ? before.detected : false;
  let failovers = c.failovers;
  if (failedNow && troubleSince !== null && !detected) {
    detected = true;
    failovers = { ...failovers, detectionsMs: pushSample(failovers.detectionsMs, at - troubleSince) };
  }
  if (!trouble) troubleSince = null;
  const ejectedBy =
    e.state === 'failed' && e.lastError !== null && EJECTION_PATTERN.test(e.lastError) ? e.lastError : null;
  const track: MasterTrack = {
    ...before,
    phone: e.phone,
    state: e.state,
    detail: e.detail,
    routable: e.routable,
    consecutiveFailures: e.consecutiveFailures,
    consecutiveSendFailures: e.consecutiveSendFailures,
    recoveryAttempts: e.recoveryAttempts,
    lastError: e.lastError,
    since: e.state === before.state ? before.since : at,
    upMs: before.upMs + up,
    lastAt: Math.max(before.lastAt, at),
    everRoutable,
    settled: before.settled || e.routable || e.state === 'failed',
    troubleSince,
    detected,
    // Routable again clears every latch: the condition they stood for is over.
    failedAt: e.routable ? null : failedNow ? (before.failedAt ?? at) : before.failedAt,
    ejected: e.routable ? null : (before.ejected ?? ejectedBy),
    rolledBack: e.routable ? null : before.rolledBack,
    failedOver: e.routable ? null : before.failedOver,
  };
  const fleet = advanceFleet(c, at);
  fleet.routable += (e.routable ? 1 : 0) - (before.routable ? 1 : 0);
  return { ...c, ...putTrack(c, track), fleet, failovers };
}

/** The track of a master, if the monitor knows it. */
export function trackOf(c: Pick<MonitorContext, 'masters' | 'slot'>, phone: string): MasterTrack | undefined {
  const i = c.slot[phone];
  return i === undefined ? undefined : c.masters[i];
}

/** `masters` (and `slot`, for a new phone) with `track` in its master's place. */
function putTrack(c: MonitorContext, track: MasterTrack): Pick<MonitorContext, 'masters' | 'slot'> {
  const masters = c.masters.slice();
  const i = c.slot[track.phone];
  if (i !== undefined) {
    masters[i] = track;
    return { masters, slot: c.slot };
  }
  masters.push(track);
  return { masters, slot: { ...c.slot, [track.phone]: masters.length - 1 } };
}

function withTrack(c: MonitorContext, phone: string, change: Partial<MasterTrack>): MonitorContext {
  const t = trackOf(c, phone);
  if (!t) return c;
  return { ...c, ...putTrack(c, { ...t, ...change }) };
}

/** Applies one fact: the new context and the alert changes to tell. Pure. */
export function applyFact(
  c: MonitorContext,
  e: MonitorEvent,
): { context: MonitorContext; emitted: MonitorEmitted[] } {
  switch (e.type) {
    case 'master.observed':
      return reconcile(observe(c, e), [e.phone, FLEET], e.at);
    case 'failover.started': {
      const f = c.failovers;
      let next: MonitorContext = {
        ...c,
        failovers: {
          ...f,
          started: f.started + 1,
          running: { ...f.running, [e.id]: { from: e.from, at: e.at } },
        },
      };
      const t = trackOf(next, e.from);
      // The failover's reason may say what the master's last error no longer does.
      if (t && !t.routable && t.ejected === null && EJECTION_PATTERN.test(e.reason))
        next = withTrack(next, e.from, { ejected: e.reason });
      return reconcile(next, [e.from], e.at);
    }
    case 'failover.completed': {
      const f = c.failovers;
      const { [e.id]: started, ...running } = f.running;
      const next = withTrack(
        {
          ...c,
          failovers: {
            ...f,
            completed: f.completed + 1,
            running,
            durationsMs: started ? pushSample(f.durationsMs, e.at - started.at) : f.durationsMs,
          },
        },
        e.from,
        // A completed failover of a master that is routable again (a manual one) is news only while it is out.
        trackOf(c, e.from)?.routable
          ? { rolledBack: null }
          : { rolledBack: null, failedOver: { id: e.id, to: e.to, ...e.moved } },
      );
      return reconcile(next, [e.from], e.at);
    }
    case 'failover.rolledBack': {
      const f = c.failovers;
      const { [e.id]: _, ...running } = f.running;
      let next: MonitorContext = { ...c, failovers: { ...f, rolledBack: f.rolledBack + 1, running } };
      if (!trackOf(c, e.from)?.routable)
        next = withTrack(next, e.from, { rolledBack: { id: e.id, note: e.note ?? 'nothing moved' } });
      return reconcile(next, [e.from], e.at);
    }
    case 'store.unavailable':
      return reconcile({ ...c, store: { available: false, reason: e.reason } }, [FLEET], e.at);
    case 'store.recovered':
      return reconcile({ ...c, store: { available: true, reason: null } }, [FLEET], e.at);
    case 'queue.measured':
      return reconcile({ ...c, queueLength: e.length }, [FLEET], e.at);
    case 'balance.measured':
      return reconcile({ ...c, balance: { quality: e.quality, strategy: e.strategy } }, [FLEET], e.at);
    case 'monitor.evaluate': {
      const scopes = new Set([FLEET, ...c.masters.map((t) => t.phone)]);
      // Alerts of masters no longer configured resolve too.
      for (const key of Object.keys(c.active)) scopes.add(scopeOf(key));
      return reconcile(c, [...scopes], e.at);
    }
    case 'alert.acknowledge': {
      const a = c.alerts[e.id];
      if (a?.state !== 'open') return { context: c, emitted: [] };
      const alert: Alert = { ...a, state: 'acknowledged', acknowledgedAt: e.at };
      return {
        context: { ...c, alerts: { ...c.alerts, [a.id]: alert } },
        emitted: [{ type: 'alert.acknowledged', alert }],
      };
    }
  }
}

// --- figures at a moment -----------------------------------------------------------------------

export interface AvailabilityAt {
  /** Time observed since the monitor started. */
  elapsedMs: number;
  /** Time with at least one routable master. */
  fleetUpMs: number;
  /** Time each master was routable. */
  masters: Record<string, number>;
}

/** Cumulative up-times at `now` (the figures run on from the last fact to now). */
export function availabilityAt(c: MonitorContext, now: number): AvailabilityAt {
  const masters: Record<string, number> = {};
  for (const t of c.masters) masters[t.phone] = t.upMs + (t.routable ? Math.max(0, now - t.lastAt) : 0);
  return {
    elapsedMs: Math.max(0, now - c.startedAt),
    fleetUpMs: c.fleet.upMs + (c.fleet.routable > 0 ? Math.max(0, now - c.fleet.lastAt) : 0),
    masters,
  };
}

export const monitorMachine = setup({
  types: {
    input: {} as MonitorInput,
    context: {} as MonitorContext,
    events: {} as MonitorEvent,
    emitted: {} as MonitorEmitted,
  },
  actions: {
    apply: enqueueActions(({ context, event, enqueue }) => {
      const { context: next, emitted } = applyFact(context, event);
      if (next !== context) enqueue.assign(() => next);
      for (const e of emitted) enqueue.emit(e);
    }),
  },
}).createMachine({
  id: 'monitor',
  context: ({ input }) => initialContext(input),
  initial: 'watching',
  states: {
    watching: {
      on: {
        'master.observed': { actions: 'apply' },
        'failover.started': { actions: 'apply' },
        'failover.completed': { actions: 'apply' },
        'failover.rolledBack': { actions: 'apply' },
        'store.unavailable': { actions: 'apply' },
        'store.recovered': { actions: 'apply' },
        'queue.measured': { actions: 'apply' },
        'balance.measured': { actions: 'apply' },
        'monitor.evaluate': { actions: 'apply' },
        'alert.acknowledge': { actions: 'apply' },
      },
    },
  },
});

export type MonitorMachine = typeof monitorMachine;
