// The monitor's wiring, in one place: it subscribes to the facts the masters (snapshots), the
// supervisor (incidents), the balancer (strategy, quality), the store and the outbox report, feeds
// them to the monitor machine (`systemId: monitor`), keeps its alerts and report history in the
// store, logs every change, and serves the reports and the Prometheus metrics.
import { type Actor, type ActorRefFrom, createActor, type InspectionEvent, type Observer } from 'xstate';
import type { MasterMachine } from '../machines/master.machine.ts';
import {
  type Alert,
  type AlertSeverity,
  type AlertState,
  alertNumber,
  availabilityAt,
  type MasterObservation,
  type MonitorEmitted,
  monitorMachine,
  queueBand,
} from '../machines/monitor.machine.ts';
import type { SupervisorEmitted } from '../machines/supervisor.machine.ts';
import type { Config, MasterConfig } from '../src/config.ts';
import { SwitchboardError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';
import { Metrics } from '../src/monitor/metrics.ts';
import {
  alertCounts,
  type Baseline,
  buildReport,
  type HealthReport,
  type ReportSample,
  sampleOf,
} from '../src/monitor/report.ts';
import { type SendOutcome, SendStats } from '../src/monitor/send-stats.ts';
import type { Outbox, OutboxChange } from '../src/outbox.ts';
import type { FailoverRecord } from '../src/store/schema.ts';
import type { Store, StoreEvent, Transaction } from '../src/store/store.ts';
import type { Webhooks } from '../src/webhooks/webhooks.ts';
import type { Balancer, BalancerActor } from './balancer.actor.ts';
import type { Clock } from './clock.ts';
import { stateLabel } from './master-log.ts';

/** What the monitor listens to: the running system (SwitchboardSystem has all of it). */
export interface MonitorSources {
  config: Config;
  clock: Clock;
  log: Logger;
  store: Store;
  outbox: Outbox;
  balancer: Balancer & { readonly actor: BalancerActor };
  supervisor: { on(type: '*', handler: (event: SupervisorEmitted) => void): { unsubscribe(): void } };
  masterPhones(): string[];
  masterRef(phone: string): ActorRefFrom<MasterMachine> | undefined;
  masterConfig(phone: string): MasterConfig | undefined;
  failovers(): FailoverRecord[];
  /** Alert events for webhooks, recorded in the transaction that writes the alert. */
  webhooks?: Pick<Webhooks, 'record'>;
}

export interface MonitorOptions {
  /** prom-client's process metrics (CPU, memory, event loop, GC). */
  processMetrics?: boolean;
  /** The inspector's observer (the monitor is drawn with the other actors). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
}

/** An alert as the API shows it (times as ISO strings). */
export interface AlertView {
  id: string;
  key: string;
  severity: AlertSeverity;
  state: AlertState;
  message: string;
  master?: string;
  createdAt: string;
  acknowledgedAt?: string;
  resolvedAt?: string;
}

export interface DashboardData {
  generatedAt: string;
  healthScore: number;
  fleet: HealthReport['fleet'];
  masters: HealthReport['masters'];
  alerts: { counts: Record<AlertSeverity, number>; active: AlertView[] };
  failovers: {
    count: number;
    successRate: number | null;
    durationMs: HealthReport['failovers']['durationMs'];
    detectionMs: HealthReport['failovers']['detectionMs'];
    recent: { id: string; from: string; to: string | null; status: string; startedAt: string }[];
  };
  balance: { strategy: string; quality: number; shares: { phone: string; share: number }[] };
  /** The last hour of history (oldest first), for charts. */
  history: {
    at: string;
    healthScore: number;
    availability: number;
    routable: number;
    queueLength: number;
    latencyP95Ms: number | null;
    sent: number;
    failed: number;
    balanceQuality: number;
    alertsOpen: number;
  }[];
  trends: HealthReport['trends'];
}

const iso = (ms: number) => new Date(ms).toISOString();
const OUTCOMES = new Set(['sent', 'delivered', 'read', 'failed', 'unknown']);

export function alertView(a: Alert): AlertView {
  return {
    id: a.id,
    key: a.key,
    severity: a.severity,
    state: a.state,
    message: a.message,
    ...(a.master === undefined ? {} : { master: a.master }),
    createdAt: iso(a.createdAt),
    ...(a.acknowledgedAt === undefined ? {} : { acknowledgedAt: iso(a.acknowledgedAt) }),
    ...(a.resolvedAt === undefined ? {} : { resolvedAt: iso(a.resolvedAt) }),
  };
}

function observation(phone: string, snapshot: ReturnType<ActorRefFrom<MasterMachine>['getSnapshot']>) {
  const [state, detail] = stateLabel(snapshot.value).split('.') as [MasterObservation['state'], string?];
  const c = snapshot.context;
  return {
    phone,
    state,
    detail: detail ?? null,
    routable: snapshot.status === 'active' && snapshot.hasTag('routable'),
    consecutiveFailures: c.consecutiveFailures,
    consecutiveSendFailures: c.consecutiveSendFailures,
    recoveryAttempts: c.recoveryAttempts,
    lastError: c.lastError,
  } satisfies MasterObservation;
}

function sameObservation(a: MasterObservation | undefined, b: MasterObservation): boolean {
  return (
    a !== undefined &&
    a.state === b.state &&
    a.detail === b.detail &&
    a.routable === b.routable &&
    a.consecutiveFailures === b.consecutiveFailures &&
    a.consecutiveSendFailures === b.consecutiveSendFailures &&
    a.recoveryAttempts === b.recoveryAttempts &&
    a.lastError === b.lastError
  );
}

export type MonitorActor = Actor<typeof monitorMachine>;

export class Monitor {
  readonly actor: MonitorActor;
  readonly metrics: Metrics;
  readonly sends = new SendStats();
  readonly #s: MonitorSources;
  readonly #log: Logger;
  readonly #cleanups: (() => void)[] = [];
  /** Alerts whose write failed (the store was down): written again once it recovers. */
  readonly #dirty = new Set<string>();
  readonly #writes = new Map<string, Promise<void>>();
  #history: ReportSample[];
  /** The start and the last reports' cumulative figures: the windows of the next reports. */
  #baselines: Baseline[] = [];
  #lastBand = 0;
  #lastBalance = { quality: -1, strategy: '' };
  #reportTimer: unknown;
  #sampleTimer: unknown;
  #stopped = false;

  constructor(sources: MonitorSources, options: MonitorOptions = {}) {
    this.#s = sources;
    const { config, store, clock } = sources;
    this.#log = sources.log.child({ actor: 'monitor' });
    this.#history = [...store.map('reports').values()].sort((a, b) => a.at - b.at);
    const m = config.monitor;
    this.actor = createActor(monitorMachine, {
      clock,
      systemId: 'monitor',
      inspect: options.inspect,
      input: {
        startedAt: clock.now(),
        masters: sources.masterPhones(),
        thresholds: {
          queueWarning: m.queueWarning,
          queueCritical: m.queueCritical,
          balanceQualityWarning: m.balanceQualityWarning,
          keepResolved: m.keepResolvedAlerts,
        },
        alerts: [...store.map('alerts').values()],
        nextAlert: (store.get('meta', 'alert') ?? 0) + 1,
        storeAvailable: store.available,
        strategy: sources.balancer.getStrategy(),
      },
    });
    const context = () => this.actor.getSnapshot().context;
    this.metrics = new Metrics(
      {
        queueLength: () => sources.outbox.queueLength,
        balanceQuality: () => sources.balancer.getLoadDistribution().quality,
        healthScore: () => this.getHealthReport().healthScore,
        storeAvailable: () => store.available,
        alertsOpen: () => alertCounts(context()).open,
        routable: () => context().fleet.routable,
      },
      options,
    );
    for (const phone of sources.masterPhones()) this.metrics.addMaster(phone);
  }

  /** Subscribes to every source, re-evaluates the restored alerts and starts the report timers. */
  start(): this {
    const s = this.#s;
    const sub = this.actor.on('*', (event) => this.#onEmitted(event as MonitorEmitted));
    this.#cleanups.push(() => sub.unsubscribe());
    this.actor.start();
    this.#baselines = [this.#baseline(s.clock.now())];

    for (const phone of s.masterPhones()) {
      const ref = s.masterRef(phone);
      if (!ref) continue;
      let last: MasterObservation | undefined;
      const follow = (snapshot: ReturnType<typeof ref.getSnapshot>) => {
        const o = observation(phone, snapshot);
        // Every probe makes a snapshot; only a change in what the monitor looks at is a fact.
        if (sameObservation(last, o)) return;
        last = o;
        this.metrics.observeMaster(phone, o);
        this.#send({ type: 'master.observed', at: s.clock.now(), ...o });
      };
      follow(ref.getSnapshot());
      const masterSub = ref.subscribe(follow);
      this.#cleanups.push(() => masterSub.unsubscribe());
    }

    const incidents = s.supervisor.on('*', (event) => this.#onIncident(event));
    this.#cleanups.push(() => incidents.unsubscribe());
    const strategy = s.balancer.actor.on('balancer.strategy.changed', () => this.#sampleBalance());
    this.#cleanups.push(() => strategy.unsubscribe());
    this.#cleanups.push(s.store.onEvent((event) => this.#onStore(event)));
    this.#cleanups.push(s.outbox.onChange((change) => this.#onOutbox(change)));

    const at = s.clock.now();
    this.#lastBand = queueBand(s.outbox.queueLength, this.actor.getSnapshot().context.thresholds);
    this.#send({ type: 'queue.measured', at, length: s.outbox.queueLength });
    this.#send({ type: 'monitor.evaluate', at });
    this.#armReport();
    this.#armSample();
    return this;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#s.clock.clearTimeout(this.#reportTimer);
    this.#s.clock.clearTimeout(this.#sampleTimer);
    for (const c of this.#cleanups) c();
    this.actor.stop();
  }

  /** A dispatcher finished a send (the hot path: counters and a ring, no event to the machine). */
  sendFinished(phone: string, outcome: SendOutcome, latencyMs?: number): void {
    this.sends.record(phone, outcome, latencyMs);
    this.metrics.sends.inc({ master: phone, outcome });
    if (outcome === 'sent' && latencyMs !== undefined)
      this.metrics.sendLatency.observe({ master: phone }, latencyMs / 1000);
  }

  #send(event: Parameters<MonitorActor['send']>[0]): void {
    if (this.#stopped) return;
    const before = this.actor.getSnapshot().context.failovers;
    this.actor.send(event);
    const after = this.actor.getSnapshot().context.failovers;
    if (after === before) return;
    // The machine measured something: the histograms take the newest figure.
    if (after.detectionsMs !== before.detectionsMs && after.detectionsMs.length > 0)
      this.metrics.detection.observe(after.detectionsMs.at(-1)! / 1000);
    if (after.durationsMs !== before.durationsMs && after.durationsMs.length > 0)
      this.metrics.failoverDuration.observe(after.durationsMs.at(-1)! / 1000);
  }

  // --- facts in --------------------------------------------------------------------------------

  #onIncident(event: SupervisorEmitted): void {
    const at = this.#s.clock.now();
    if (event.type === 'failover.started') this.metrics.failovers.inc({ outcome: 'started' });
    else if (event.type === 'failover.completed') this.metrics.failovers.inc({ outcome: 'completed' });
    else if (event.type === 'failover.rolledBack') this.metrics.failovers.inc({ outcome: 'rolled_back' });
    else return;
    this.#send({ ...event, at });
  }

  #onStore(event: StoreEvent): void {
    const at = this.#s.clock.now();
    switch (event.type) {
      case 'committed':
        this.metrics.storeCommit.observe(event.ms / 1000);
        this.metrics.storeBytes.inc(event.bytes);
        return;
      case 'unavailable':
        this.metrics.storeFaults.inc();
        this.#send({ type: 'store.unavailable', at, reason: event.reason });
        return;
      case 'recovered':
        this.#send({ type: 'store.recovered', at });
        this.#flushDirty();
        return;
      default:
        return;
    }
  }

  #onOutbox(change: OutboxChange): void {
    if (change.type === 'status') {
      if (change.previous === null) this.metrics.messages.inc({ outcome: 'accepted' });
      else if (change.message.status !== change.previous && OUTCOMES.has(change.message.status))
        this.metrics.messages.inc({ outcome: change.message.status });
    }
    // Only a change of band (under warning, warning, critical) is news to the machine: the queue
    // changes with every message, and the report reads its length when it is made.
    const length = this.#s.outbox.queueLength;
    const band = queueBand(length, this.actor.getSnapshot().context.thresholds);
    if (band === this.#lastBand) return;
    this.#lastBand = band;
    this.#send({ type: 'queue.measured', at: this.#s.clock.now(), length });
  }

  #sampleBalance(): void {
    const d = this.#s.balancer.getLoadDistribution();
    if (d.quality === this.#lastBalance.quality && d.strategy === this.#lastBalance.strategy) return;
    this.#lastBalance = { quality: d.quality, strategy: d.strategy };
    this.#send({
      type: 'balance.measured',
      at: this.#s.clock.now(),
      quality: d.quality,
      strategy: d.strategy,
    });
  }

  #armSample(): void {
    if (this.#stopped) return;
    this.#sampleTimer = this.#s.clock.setTimeout(() => {
      this.#sampleBalance();
      this.#armSample();
    }, this.#s.config.monitor.sampleIntervalMs);
  }

  #armReport(): void {
    if (this.#stopped) return;
    this.#reportTimer = this.#s.clock.setTimeout(() => {
      try {
        this.report();
      } catch (err) {
        this.#log.error({ err }, 'health report failed');
      }
      this.#armReport();
    }, this.#s.config.monitor.reportIntervalMs);
  }

  // --- alerts out ------------------------------------------------------------------------------

  #onEmitted(event: MonitorEmitted): void {
    if (event.type === 'alert.pruned') {
      this.#log.debug({ alert: event.id }, 'resolved alert dropped from the history');
      this.#write(event.id, null);
      return;
    }
    const a = event.alert;
    const fields = {
      alert: a.id,
      key: a.key,
      severity: a.severity,
      state: a.state,
      ...(a.master === undefined ? {} : { master: a.master }),
    };
    const level = a.severity === 'critical' ? 'error' : a.severity === 'warning' ? 'warn' : 'info';
    switch (event.type) {
      case 'alert.opened':
        this.#log[level](fields, `alert opened: ${a.message}`);
        break;
      case 'alert.escalated':
        this.#log[level]({ ...fields, previous: event.previous }, `alert escalated: ${a.message}`);
        break;
      case 'alert.acknowledged':
        this.#log.info(fields, `alert acknowledged: ${a.message}`);
        break;
      case 'alert.resolved':
        this.#log.info(fields, `alert resolved: ${a.message}`);
        break;
    }
    this.#write(a.id, a);
  }

  /** One small put (or delete) per alert change; a failed one is written again after a recovery. */
  #write(id: string, alert: Alert | null): void {
    const { store } = this.#s;
    if (!store.available) {
      this.#dirty.add(id);
      return;
    }
    const done = store
      .transaction((tx) => {
        const before = tx.get('alerts', id);
        if (alert === null) tx.del('alerts', id);
        else tx.put('alerts', id, alert);
        this.#recordAlertEvent(tx, before, alert);
        const n = alertNumber(id);
        if ((tx.get('meta', 'alert') ?? 0) < n) tx.put('meta', 'alert', n);
      })
      .catch(() => {
        this.#dirty.add(id);
      });
    this.#writes.set(id, done);
    void done.finally(() => {
      if (this.#writes.get(id) === done) this.#writes.delete(id);
    });
  }

  /**
   * alert.opened when an alert is first written open, alert.resolved when it is first written resolved:
   * derived from what the store held, so an alert written again after a failed write still gets its events.
   */
  #recordAlertEvent(tx: Transaction, before: Alert | undefined, alert: Alert | null): void {
    const webhooks = this.#s.webhooks;
    if (!webhooks || alert === null) return;
    const data = {
      alertId: alert.id,
      key: alert.key,
      severity: alert.severity,
      state: alert.state,
      message: alert.message,
      ...(alert.master === undefined ? {} : { master: alert.master }),
    };
    const order = `alert:${alert.id}`;
    if (!before && alert.state !== 'resolved')
      webhooks.record(tx, 'alert.opened', data, order, alert.createdAt);
    if (alert.state === 'resolved' && before?.state !== 'resolved') {
      if (!before) webhooks.record(tx, 'alert.opened', { ...data, state: 'open' }, order, alert.createdAt);
      webhooks.record(tx, 'alert.resolved', data, order, alert.resolvedAt);
    }
  }

  #flushDirty(): void {
    const alerts = this.actor.getSnapshot().context.alerts;
    const ids = [...this.#dirty];
    this.#dirty.clear();
    for (const id of ids) this.#write(id, alerts[id] ?? null);
  }

  // --- reports ---------------------------------------------------------------------------------

  #baseline(at: number): Baseline {
    const c = this.actor.getSnapshot().context;
    const a = availabilityAt(c, at);
    return {
      at,
      fleetUpMs: a.fleetUpMs,
      masterUpMs: a.masters,
      sends: { ...this.sends.total },
      failovers: {
        started: c.failovers.started,
        completed: c.failovers.completed,
        rolledBack: c.failovers.rolledBack,
      },
    };
  }

  #build(now: number, from: Baseline): HealthReport {
    const s = this.#s;
    const current = this.#baseline(now);
    return buildReport({
      now,
      context: this.actor.getSnapshot().context,
      current,
      from,
      masters: s.masterPhones().map((phone) => ({
        phone,
        weight: s.masterConfig(phone)?.weight ?? 1,
        inFlight: s.outbox.sendingCount(phone),
        owned: s.outbox.ownedCount(phone),
        sends: this.sends.counts(phone),
        latency: this.sends.latency(phone),
      })),
      fleetLatency: this.sends.latency(),
      queueLength: s.outbox.queueLength,
      history: this.#history,
      intervalMs: s.config.monitor.reportIntervalMs,
    });
  }

  /**
   * The report now. Its window is the last report interval (from the newest report at least one
   * interval old, else from the start), so a report asked for just after a periodic one still
   * covers a whole interval.
   */
  getHealthReport(): HealthReport {
    const now = this.#s.clock.now();
    const edge = now - this.#s.config.monitor.reportIntervalMs;
    const from = this.#baselines.findLast((b) => b.at <= edge) ?? this.#baselines[0] ?? this.#baseline(now);
    return this.#build(now, from);
  }

  /** The periodic report: logged, added to the history (persisted, bounded), returned. */
  report(): HealthReport {
    const now = this.#s.clock.now();
    const from = this.#baselines.at(-1) ?? this.#baseline(now);
    const report = this.#build(now, from);
    this.#baselines.push(this.#baseline(now));
    if (this.#baselines.length > 4) this.#baselines.splice(0, this.#baselines.length - 4);
    const sample = sampleOf(report, now);
    const limit = this.#s.config.monitor.historySize;
    this.#history.push(sample);
    const dropped = this.#history.length > limit ? this.#history.splice(0, this.#history.length - limit) : [];
    this.#log.info(
      {
        healthScore: report.healthScore,
        availability: report.fleet.availability,
        routable: report.fleet.routable,
        masters: report.fleet.masters,
        queueLength: report.fleet.queueLength,
        sends: report.fleet.sends,
        latencyMs: report.fleet.latencyMs,
        failovers: report.failovers.inWindow,
        alertsOpen: report.alerts.open,
        states: Object.fromEntries(
          report.masters.map((m) => [m.phone, m.detail ? `${m.state}.${m.detail}` : m.state]),
        ),
      },
      'health report',
    );
    if (this.#s.store.available) {
      this.#s.store
        .transaction((tx) => {
          tx.put('reports', String(now), sample);
          for (const d of dropped) tx.del('reports', String(d.at));
        })
        .catch((err: unknown) => this.#log.debug({ err }, 'report not kept on disk: the store cannot write'));
    }
    return report;
  }

  /** The report history, oldest first. */
  history(): readonly ReportSample[] {
    return this.#history;
  }

  getDashboardData(): DashboardData {
    const report = this.getHealthReport();
    const c = this.actor.getSnapshot().context;
    const active = Object.values(c.alerts)
      .filter((a) => a.state !== 'resolved')
      .sort(newestFirst)
      .map(alertView);
    const distribution = this.#s.balancer.getLoadDistribution();
    const hourAgo = this.#s.clock.now() - 3_600_000;
    return {
      generatedAt: report.generatedAt,
      healthScore: report.healthScore,
      fleet: report.fleet,
      masters: report.masters,
      alerts: { counts: report.alerts.open, active },
      failovers: {
        count: report.failovers.count,
        successRate: report.failovers.successRate,
        durationMs: report.failovers.durationMs,
        detectionMs: report.failovers.detectionMs,
        recent: this.#s
          .failovers()
          .slice(0, 10)
          .map((f) => ({ id: f.id, from: f.from, to: f.to, status: f.status, startedAt: iso(f.startedAt) })),
      },
      balance: {
        strategy: distribution.strategy,
        quality: distribution.quality,
        shares: distribution.distribution.map((d) => ({ phone: d.phone, share: d.share })),
      },
      history: this.#history
        .filter((h) => h.at >= hourAgo)
        .map((h) => ({
          at: iso(h.at),
          healthScore: h.healthScore,
          availability: h.availability,
          routable: h.routable,
          queueLength: h.queueLength,
          latencyP95Ms: h.latencyMs?.p95 ?? null,
          sent: h.sends.sent,
          failed: h.sends.failed + h.sends.unknown,
          balanceQuality: h.balanceQuality,
          alertsOpen: h.alertsOpen.critical + h.alertsOpen.warning + h.alertsOpen.info,
        })),
      trends: report.trends,
    };
  }

  // --- alerts API ------------------------------------------------------------------------------

  /** Alerts, newest first, filtered by severity and state (no filter: all). */
  getAlerts(filter: { severity?: AlertSeverity; state?: AlertState } = {}): Alert[] {
    return Object.values(this.actor.getSnapshot().context.alerts)
      .filter(
        (a) =>
          (filter.severity === undefined || a.severity === filter.severity) &&
          (filter.state === undefined || a.state === filter.state),
      )
      .sort(newestFirst);
  }

  getAlert(id: string): Alert | undefined {
    return this.actor.getSnapshot().context.alerts[id];
  }

  /**
   * Acknowledges an open alert (an acknowledged or resolved one is returned as it is); resolves once
   * the change is on disk, or at once when the store cannot write (it is written after the recovery).
   */
  async acknowledgeAlert(id: string): Promise<Alert> {
    if (!this.getAlert(id)) throw new SwitchboardError('SB_ERR_UNKNOWN_ALERT', `no alert ${id}`, 404);
    this.#send({ type: 'alert.acknowledge', at: this.#s.clock.now(), id });
    await this.#writes.get(id);
    return this.getAlert(id)!;
  }
}

function newestFirst(a: Alert, b: Alert): number {
  return b.createdAt - a.createdAt || alertNumber(b.id) - alertNumber(a.id);
}
