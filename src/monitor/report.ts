// The health report: what the monitor knows at a moment, put in the shape an operator reads, and
// the compact sample of it kept in the history for trends. Pure: the actor gathers the inputs.
import { type AlertSeverity, type MonitorContext, trackOf } from '../../machines/monitor.machine.ts';
import {
  healthScore,
  type Percentiles,
  percentiles,
  round,
  type ScoreParts,
  type Trend,
  trend,
} from './figures.ts';
import type { SendCounts } from './send-stats.ts';

/** One report in the history (persisted; small on purpose: fleet figures only). */
export interface ReportSample {
  readonly at: number;
  /** The window the interval figures cover, ms. */
  readonly windowMs: number;
  readonly healthScore: number;
  /** Share of the window with at least one routable master, 0-1. */
  readonly availability: number;
  readonly masters: number;
  readonly routable: number;
  readonly queueLength: number;
  readonly sends: SendCounts;
  readonly latencyMs: Percentiles | null;
  readonly failovers: { readonly started: number; readonly completed: number; readonly rolledBack: number };
  readonly balanceQuality: number;
  readonly alertsOpen: Readonly<Record<AlertSeverity, number>>;
}

/** Figures at a moment, to diff against a later one (the window of a report). */
export interface Baseline {
  at: number;
  fleetUpMs: number;
  masterUpMs: Record<string, number>;
  sends: SendCounts;
  failovers: { started: number; completed: number; rolledBack: number };
}

export interface MasterReport {
  phone: string;
  state: string;
  detail: string | null;
  routable: boolean;
  since: string;
  inFlight: number;
  /** Owned and waiting to be sent. */
  queueLength: number;
  completed: number;
  failed: number;
  unknown: number;
  latencyMs: Percentiles | null;
  consecutiveFailures: number;
  recoveryAttempts: number;
  /** Share of the window the master was routable, 0-1. */
  availability: number;
  /** Since the monitor started. */
  availabilitySinceStart: number;
  reason: string | null;
}

export type Trends = Record<
  | 'healthScore'
  | 'availability'
  | 'queueLength'
  | 'latencyP95Ms'
  | 'sendSuccess'
  | 'balanceQuality'
  | 'alertsOpen'
  | 'failovers',
  Trend
>;

export interface HealthReport {
  generatedAt: string;
  window: { from: string; to: string; ms: number };
  healthScore: number;
  scoreParts: ScoreParts;
  fleet: {
    masters: number;
    routable: number;
    /** Share of the window with at least one routable master, 0-1. */
    availability: number;
    availabilitySinceStart: number;
    since: string;
    queueLength: number;
    storeAvailable: boolean;
    sends: SendCounts & { successRate: number | null };
    latencyMs: Percentiles | null;
  };
  masters: MasterReport[];
  failovers: {
    /** Since the monitor started. */
    count: number;
    completed: number;
    rolledBack: number;
    running: number;
    successRate: number | null;
    inWindow: { started: number; completed: number; rolledBack: number };
    durationMs: Percentiles | null;
    detectionMs: Percentiles | null;
  };
  balance: { strategy: string; quality: number };
  alerts: { open: Record<AlertSeverity, number>; acknowledged: number; resolved: number };
  history: { samples: number; from: string | null; intervalMs: number };
  trends: Trends;
}

export interface ReportInput {
  now: number;
  context: MonitorContext;
  /** Cumulative figures now and at the window's start. */
  current: Baseline;
  from: Baseline;
  masters: {
    phone: string;
    weight: number;
    inFlight: number;
    owned: number;
    sends: SendCounts;
    latency: Percentiles | null;
  }[];
  fleetLatency: Percentiles | null;
  queueLength: number;
  history: readonly ReportSample[];
  intervalMs: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

function diff(a: SendCounts, b: SendCounts): SendCounts {
  return { sent: a.sent - b.sent, failed: a.failed - b.failed, unknown: a.unknown - b.unknown };
}

export function alertCounts(c: MonitorContext) {
  const open: Record<AlertSeverity, number> = { critical: 0, warning: 0, info: 0 };
  let acknowledged = 0;
  let resolved = 0;
  for (const a of Object.values(c.alerts)) {
    if (a.state === 'resolved') resolved++;
    else open[a.severity]++;
    if (a.state === 'acknowledged') acknowledged++;
  }
  return { open, acknowledged, resolved };
}

export function buildReport(input: ReportInput): HealthReport {
  const { now, context: c, current, from } = input;
  const windowMs = Math.max(0, current.at - from.at);
  const avail = (up: number, elapsed: number) => (elapsed > 0 ? round(Math.min(1, up / elapsed)) : 1);
  const sinceStart = Math.max(0, now - c.startedAt);
  const fleetAvailability = avail(current.fleetUpMs - from.fleetUpMs, windowMs);
  const sends = diff(current.sends, from.sends);
  const tried = sends.sent + sends.failed + sends.unknown;
  const t = c.thresholds;
  const masters: MasterReport[] = input.masters.map((m) => {
    const track = trackOf(c, m.phone);
    const up = current.masterUpMs[m.phone] ?? 0;
    return {
      phone: m.phone,
      state: track?.state ?? 'recovering',
      detail: track?.detail ?? null,
      routable: track?.routable ?? false,
      since: iso(track?.since ?? c.startedAt),
      inFlight: m.inFlight,
      queueLength: Math.max(0, m.owned - m.inFlight),
      completed: m.sends.sent,
      failed: m.sends.failed,
      unknown: m.sends.unknown,
      latencyMs: m.latency,
      consecutiveFailures: track?.consecutiveFailures ?? 0,
      recoveryAttempts: track?.recoveryAttempts ?? 0,
      availability: avail(up - (from.masterUpMs[m.phone] ?? 0), windowMs),
      availabilitySinceStart: avail(up, sinceStart),
      reason: track?.lastError ?? null,
    };
  });
  const { score, parts } = healthScore({
    masters: input.masters.map((m) => ({
      weight: m.weight,
      state: trackOf(c, m.phone)?.state ?? 'recovering',
    })),
    availability: fleetAvailability,
    sends,
    queueLength: input.queueLength,
    queueWarning: t.queueWarning,
    queueCritical: t.queueCritical,
    balanceQuality: c.balance.quality,
    strategy: c.balance.strategy,
    storeAvailable: c.store.available,
  });
  const f = c.failovers;
  const finished = f.completed + f.rolledBack;
  const alerts = alertCounts(c);
  const report: HealthReport = {
    generatedAt: iso(now),
    window: { from: iso(from.at), to: iso(current.at), ms: windowMs },
    healthScore: score,
    scoreParts: {
      capacity: round(parts.capacity),
      availability: round(parts.availability),
      sendSuccess: round(parts.sendSuccess),
      queue: round(parts.queue),
      balance: round(parts.balance),
    },
    fleet: {
      masters: masters.length,
      routable: c.fleet.routable,
      availability: fleetAvailability,
      availabilitySinceStart: avail(current.fleetUpMs, sinceStart),
      since: iso(c.startedAt),
      queueLength: input.queueLength,
      storeAvailable: c.store.available,
      sends: { ...sends, successRate: tried > 0 ? round(sends.sent / tried) : null },
      latencyMs: input.fleetLatency,
    },
    masters,
    failovers: {
      count: f.started,
      completed: f.completed,
      rolledBack: f.rolledBack,
      running: Object.keys(f.running).length,
      successRate: finished > 0 ? round(f.completed / finished) : null,
      inWindow: {
        started: current.failovers.started - from.failovers.started,
        completed: current.failovers.completed - from.failovers.completed,
        rolledBack: current.failovers.rolledBack - from.failovers.rolledBack,
      },
      durationMs: percentiles(f.durationsMs),
      detectionMs: percentiles(f.detectionsMs),
    },
    balance: { strategy: c.balance.strategy, quality: c.balance.quality },
    alerts,
    history: {
      samples: input.history.length,
      from: input.history.length > 0 ? iso(input.history[0]!.at) : null,
      intervalMs: input.intervalMs,
    },
    trends: trendsOf(input.history),
  };
  return report;
}

/** The history sample of a report. */
export function sampleOf(report: HealthReport, at: number): ReportSample {
  return {
    at,
    windowMs: report.window.ms,
    healthScore: report.healthScore,
    availability: report.fleet.availability,
    masters: report.fleet.masters,
    routable: report.fleet.routable,
    queueLength: report.fleet.queueLength,
    sends: {
      sent: report.fleet.sends.sent,
      failed: report.fleet.sends.failed,
      unknown: report.fleet.sends.unknown,
    },
    latencyMs: report.fleet.latencyMs,
    failovers: report.failovers.inWindow,
    balanceQuality: report.balance.quality,
    alertsOpen: report.alerts.open,
  };
}

/** Trends of the history's figures (oldest first). */
export function trendsOf(history: readonly ReportSample[]): Trends {
  const of = (value: (s: ReportSample) => number | null) =>
    trend(history.map((s) => ({ at: s.at, value: value(s) })));
  return {
    healthScore: of((s) => s.healthScore),
    availability: of((s) => s.availability),
    queueLength: of((s) => s.queueLength),
    latencyP95Ms: of((s) => s.latencyMs?.p95 ?? null),
    sendSuccess: of((s) => {
      const tried = s.sends.sent + s.sends.failed + s.sends.unknown;
      return tried > 0 ? s.sends.sent / tried : null;
    }),
    balanceQuality: of((s) => s.balanceQuality),
    alertsOpen: of((s) => s.alertsOpen.critical + s.alertsOpen.warning + s.alertsOpen.info),
    failovers: of((s) => s.failovers.started),
  };
}
