// The Prometheus metrics (prom-client) on a registry of their own, so several services in one
// process (tests) do not collide. Names: `switchboard_` prefix, base units (seconds, bytes, ratios
// 0-1), `_total` counters; labels are bounded (a master's phone, a state, an outcome, a severity).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { AlertSeverity } from '../../machines/monitor.machine.ts';

export const MASTER_STATES = ['healthy', 'degraded', 'failed', 'recovering'] as const;
export const MESSAGE_OUTCOMES = ['accepted', 'sent', 'delivered', 'read', 'failed', 'unknown'] as const;

/** Values read at scrape time (gauges that are cheaper to read than to keep up to date). */
export interface MetricsReadings {
  queueLength(): number;
  balanceQuality(): number;
  healthScore(): number;
  storeAvailable(): boolean;
  alertsOpen(): Record<AlertSeverity, number>;
  routable(): number;
}

export interface MetricsOptions {
  /** prom-client's process metrics (CPU, memory, event loop, GC): on for the service. */
  processMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly masterState: Gauge<'master' | 'state'>;
  readonly masterRoutable: Gauge<'master'>;
  readonly consecutiveFailures: Gauge<'master'>;
  readonly recoveryAttempts: Gauge<'master'>;
  readonly messages: Counter<'outcome'>;
  readonly sends: Counter<'master' | 'outcome'>;
  readonly sendLatency: Histogram<'master'>;
  readonly failovers: Counter<'outcome'>;
  readonly failoverDuration: Histogram;
  readonly detection: Histogram;
  readonly storeCommit: Histogram;
  readonly storeBytes: Counter;
  readonly storeFaults: Counter;

  constructor(readings: MetricsReadings, options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.masterState = new Gauge({
      name: 'switchboard_master_state',
      help: 'Whether the master is in this top-level state (1) or not (0): one series per state.',
      labelNames: ['master', 'state'],
      registers,
    });
    this.masterRoutable = new Gauge({
      name: 'switchboard_master_routable',
      help: 'Whether the master takes messages (healthy or degraded): 1 or 0.',
      labelNames: ['master'],
      registers,
    });
    new Gauge({
      name: 'switchboard_masters_routable',
      help: 'Masters that take messages now.',
      registers,
      collect() {
        this.set(readings.routable());
      },
    });
    this.consecutiveFailures = new Gauge({
      name: 'switchboard_master_consecutive_failures',
      help: 'Failed probes in a row of the master.',
      labelNames: ['master'],
      registers,
    });
    this.recoveryAttempts = new Gauge({
      name: 'switchboard_master_recovery_attempts',
      help: 'Reconnect attempts of the master since it was last healthy.',
      labelNames: ['master'],
      registers,
    });
    this.messages = new Counter({
      name: 'switchboard_messages_total',
      help: 'Messages accepted, and messages that reached an outcome (sent, delivered, read, failed, unknown).',
      labelNames: ['outcome'],
      registers,
    });
    this.sends = new Counter({
      name: 'switchboard_sends_total',
      help: 'Sends finished by a master, by outcome (sent, failed, unknown: no acknowledgement).',
      labelNames: ['master', 'outcome'],
      registers,
    });
    this.sendLatency = new Histogram({
      name: 'switchboard_send_latency_seconds',
      help: 'Time from a send going on the wire to its acknowledgement.',
      labelNames: ['master'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    new Gauge({
      name: 'switchboard_queue_length',
      help: 'Messages waiting for a master.',
      registers,
      collect() {
        this.set(readings.queueLength());
      },
    });
    this.failovers = new Counter({
      name: 'switchboard_failovers_total',
      help: 'Failover incidents by outcome: started, completed, rolled_back.',
      labelNames: ['outcome'],
      registers,
    });
    this.failoverDuration = new Histogram({
      name: 'switchboard_failover_duration_seconds',
      help: 'Start to completion of completed failover incidents.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60],
      registers,
    });
    this.detection = new Histogram({
      name: 'switchboard_failure_detection_seconds',
      help: "From a master's first sign of trouble (a failed probe or send, or a close) to its failure.",
      buckets: [0.1, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300],
      registers,
    });
    new Gauge({
      name: 'switchboard_alerts_open',
      help: 'Alerts not resolved (open or acknowledged), by severity.',
      labelNames: ['severity'],
      registers,
      collect() {
        for (const [severity, n] of Object.entries(readings.alertsOpen())) this.set({ severity }, n);
      },
    });
    new Gauge({
      name: 'switchboard_balance_quality_ratio',
      help: "How closely recent traffic follows the routable masters' weights, 0-1 (1 - total variation distance).",
      registers,
      collect() {
        this.set(readings.balanceQuality() / 100);
      },
    });
    new Gauge({
      name: 'switchboard_health_score_ratio',
      help: 'Fleet health score, 0-1 (the report gives it 0-100; formula in the README).',
      registers,
      collect() {
        this.set(readings.healthScore() / 100);
      },
    });
    this.storeCommit = new Histogram({
      name: 'switchboard_store_commit_seconds',
      help: 'Time to write and fsync one commit group of the journal.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    });
    this.storeBytes = new Counter({
      name: 'switchboard_store_written_bytes_total',
      help: 'Bytes appended to the journal.',
      registers,
    });
    this.storeFaults = new Counter({
      name: 'switchboard_store_faults_total',
      help: 'Times the store could not write and refused writes until a test write succeeded.',
      registers,
    });
    new Gauge({
      name: 'switchboard_store_available',
      help: 'Whether the store can write (1) or refuses writes (0).',
      registers,
      collect() {
        this.set(readings.storeAvailable() ? 1 : 0);
      },
    });
    this.messages.inc({ outcome: 'accepted' }, 0);
    for (const outcome of ['started', 'completed', 'rolled_back']) this.failovers.inc({ outcome }, 0);
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** A master's first series, so a dashboard shows every master before anything happens to it. */
  addMaster(phone: string): void {
    for (const state of MASTER_STATES) this.masterState.set({ master: phone, state }, 0);
    this.masterRoutable.set({ master: phone }, 0);
    this.consecutiveFailures.set({ master: phone }, 0);
    this.recoveryAttempts.set({ master: phone }, 0);
    for (const outcome of ['sent', 'failed', 'unknown']) this.sends.inc({ master: phone, outcome }, 0);
  }

  observeMaster(
    phone: string,
    m: { state: string; routable: boolean; consecutiveFailures: number; recoveryAttempts: number },
  ): void {
    for (const state of MASTER_STATES)
      this.masterState.set({ master: phone, state }, m.state === state ? 1 : 0);
    this.masterRoutable.set({ master: phone }, m.routable ? 1 : 0);
    this.consecutiveFailures.set({ master: phone }, m.consecutiveFailures);
    this.recoveryAttempts.set({ master: phone }, m.recoveryAttempts);
  }

  /** The Prometheus text exposition and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
