// The programmatic API: createSwitchboard(config) opens the store, starts the actor system and
// returns the operations the HTTP API offers, under the names operators of the original system know.
import { join } from 'node:path';
import type { InspectionEvent } from 'xstate';
import type { LoadDistribution } from '../actors/balancer.actor.ts';
import type { Clock } from '../actors/clock.ts';
import { stateLabel } from '../actors/master-log.ts';
import { type AlertView, alertView, type DashboardData } from '../actors/monitor.actor.ts';
import { FAULT_KINDS, type Fault, SimNetwork, type SimSend } from '../actors/sim.transport.ts';
import { SwitchboardSystem } from '../actors/system.ts';
import type { Transport } from '../actors/transport.ts';
import type { BaileysOptions } from '../actors/transports/baileys/index.ts';
import { InspectionBridge } from '../inspector/bridge.ts';
import type { StatelyInspection } from '../inspector/stately.ts';
import type { MasterStateValue } from '../machines/master.machine.ts';
import {
  ALERT_SEVERITIES,
  ALERT_STATES,
  type AlertSeverity,
  type AlertState,
} from '../machines/monitor.machine.ts';
import { type Config, type ConfigInput, parseConfig, type WebhookEndpointConfig } from './config.ts';
import { SwitchboardError } from './errors.ts';
import { createLogger, type Logger } from './logger.ts';
import type { HealthReport } from './monitor/report.ts';
import type { AcceptResult, MessageCounts } from './outbox.ts';
import { normalizePhone } from './phone.ts';
import {
  type FailoverRecord,
  MESSAGE_STATUSES,
  type MessageRecord,
  type MessageStatus,
} from './store/schema.ts';
import { Store, type StoreOptions } from './store/store.ts';
import type { WebhookDelivery, WebhookEndpoint } from './webhooks/events.ts';

export interface MasterLoadView {
  inFlight: number;
  queued: number;
  completed: number;
  failed: number;
  avgLatencyMs: number | null;
}

/** GET /api/masters/:phone */
export interface MasterView {
  phone: string;
  state: MasterStateValue;
  /** The sub-state (connecting, probation, backoff, exhausted, needsRepair) or null. */
  detail: string | null;
  /** Why it is not healthy, in words an operator can act on. */
  reason: string | null;
  transport: 'sim' | 'baileys';
  /** Baileys masters: whether the number's credentials are paired; null for other transports. */
  paired: boolean | null;
  priority: number;
  region: string;
  weight: number;
  ratePerMinute: number;
  consecutiveFailures: number;
  recoveryAttempts: number;
  load: MasterLoadView;
  since: string;
}

/** GET /api/messages/:id */
export interface MessageView {
  id: string;
  to: string;
  /** null once removed by retention (see retention.textHours). */
  text: string | null;
  status: MessageStatus;
  master: string | null;
  attempts: number;
  createdAt: string;
  sentAt?: string;
  finishedAt?: string;
  history: { at: string; status: MessageStatus; master?: string; note?: string }[];
}

export interface FailoverView {
  id: string;
  from: string;
  to: string | null;
  reason: string;
  manual: boolean;
  status: FailoverRecord['status'];
  startedAt: string;
  completedAt?: string;
  moved: { messages: number; contacts: number };
  note?: string;
}

export interface SwitchboardOptions {
  log?: Logger;
  clock?: Clock;
  /** Transports by phone, in place of the ones the config names (tests, embedding). */
  transports?: Map<string, Transport>;
  /** Baileys transport options given in code (the test-only endpoint lives here, never in the config file). */
  baileys?: BaileysOptions;
  /** fsync every commit (default true; see README "Durability"). */
  fsync?: boolean;
  /** Store settings for tests and the simulation (file layer, checkpointer ...). */
  store?: StoreOptions;
}

const iso = (ms: number) => new Date(ms).toISOString();

export interface Inspection {
  /** The self-hosted inspector's source of events (GET /inspector). */
  bridge: InspectionBridge;
  /** Stately's inspector, when config.inspector.stately is on. */
  stately?: StatelyInspection | undefined;
}

export class Switchboard {
  readonly #system: SwitchboardSystem;
  readonly #store: Store;
  readonly log: Logger;
  readonly config: Config;
  /** What the actors' inspection feeds: the inspector page's bridge, and Stately's when asked for. */
  readonly inspection: Inspection;
  #stopped: Promise<void> | null = null;

  /** @internal use createSwitchboard() */
  constructor(system: SwitchboardSystem, store: Store, config: Config, log: Logger, inspection?: Inspection) {
    this.#system = system;
    this.#store = store;
    this.config = config;
    this.log = log;
    this.inspection = inspection ?? { bridge: new InspectionBridge() };
  }

  /** @internal the wired actors, for tests and the inspector. */
  get system(): SwitchboardSystem {
    return this.#system;
  }

  get dataDir(): string {
    return this.#store.dir;
  }

  /** Validates and normalises a master's number from a path; 404 when it is not one of ours. */
  resolveMaster(raw: string): string {
    const parsed = normalizePhone(raw);
    if (!parsed.ok) throw new SwitchboardError('SB_ERR_INVALID_PHONE', parsed.reason, 400);
    if (!this.#system.masterConfig(parsed.phone)) {
      throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${parsed.phone}`, 404);
    }
    return parsed.phone;
  }

  // --- masters -------------------------------------------------------------------------------

  getMasterStatus(phone: string): MasterView;
  getMasterStatus(): MasterView[];
  getMasterStatus(phone?: string): MasterView | MasterView[] {
    if (phone === undefined) return this.#system.masterPhones().map((p) => this.#view(p));
    return this.#view(this.resolveMaster(phone));
  }

  getHealthyMasters(): MasterView[] {
    return this.getMasterStatus().filter((m) => m.state === 'healthy');
  }

  getDegradedMasters(): MasterView[] {
    return this.getMasterStatus().filter((m) => m.state === 'degraded');
  }

  getFailedMasters(): MasterView[] {
    return this.getMasterStatus().filter((m) => m.state === 'failed');
  }

  #view(phone: string): MasterView {
    const sys = this.#system;
    const cfg = sys.masterConfig(phone)!;
    const snapshot = sys.masterRef(phone)?.getSnapshot();
    const label = snapshot ? stateLabel(snapshot.value) : 'failed.stopped';
    const [state, detail] = label.split('.') as [MasterStateValue, string | undefined];
    const dispatcher = sys.dispatchers.get(phone);
    const stats = dispatcher?.stats;
    const inFlight = dispatcher?.inFlight ?? 0;
    return {
      phone,
      state,
      detail: detail ?? null,
      reason: snapshot?.context.lastError ?? null,
      transport: cfg.transport,
      paired: cfg.transport === 'baileys' ? (sys.transport(phone).paired ?? null) : null,
      priority: cfg.priority,
      region: cfg.region,
      weight: cfg.weight,
      ratePerMinute: cfg.ratePerMinute,
      consecutiveFailures: snapshot?.context.consecutiveFailures ?? 0,
      recoveryAttempts: snapshot?.context.recoveryAttempts ?? 0,
      load: {
        inFlight,
        queued: Math.max(0, sys.outbox.ownedCount(phone) - inFlight),
        completed: stats?.sent ?? 0,
        failed: (stats?.failed ?? 0) + (stats?.unknown ?? 0),
        avgLatencyMs: stats && stats.sent > 0 ? Math.round(stats.totalLatencyMs / stats.sent) : null,
      },
      since: iso(sys.since(phone) ?? sys.clock.now()),
    };
  }

  /** Starts a manual failover of `from` (to `to`, or the best backup); answers its incident id. */
  executeFailover(from: string, to?: string): { failoverId: string } {
    const source = this.resolveMaster(from);
    const target = to === undefined ? undefined : this.resolveMaster(to);
    return { failoverId: this.#system.executeFailover(source, target) };
  }

  /** The master a failover of `from` would move to now, or null when none is routable. */
  selectBackupMaster(from: string): string | null {
    return this.#system.selectBackupMaster(this.resolveMaster(from));
  }

  /** Sends "master.reset": out of failed.exhausted or failed.needsRepair, a fresh reconnect. */
  manualReset(phone: string): void {
    this.#system.manualReset(this.resolveMaster(phone));
  }

  async updateRoutingPriorities(phone: string, priority: number): Promise<MasterView> {
    if (!Number.isInteger(priority) || priority < 0) {
      throw new SwitchboardError('SB_ERR_VALIDATION', 'priority must be a whole number >= 0', 400);
    }
    const p = this.resolveMaster(phone);
    await this.#system.updateRoutingPriorities(p, priority);
    return this.#view(p);
  }

  // --- balancer ------------------------------------------------------------------------------

  /** Which master a message to `to` would go to now (no token is taken, nothing is recorded). */
  selectMasterForMessage(to: string): string | null {
    const parsed = normalizePhone(to);
    if (!parsed.ok) throw new SwitchboardError('SB_ERR_INVALID_PHONE', parsed.reason, 400);
    return this.#system.balancer.peek(parsed.phone);
  }

  getLoadDistribution(): LoadDistribution {
    return this.#system.balancer.getLoadDistribution();
  }

  setStrategy(name: string): void {
    this.#system.balancer.setStrategy(name);
    this.log.info({ strategy: name }, 'balancer strategy changed');
  }

  getAvailableStrategies(): string[] {
    return this.#system.balancer.getAvailableStrategies();
  }

  // --- messages ------------------------------------------------------------------------------

  /** Accepts a message; resolves once it is durable. `created` is false for a repeated idempotency key. */
  async send(input: { to: string; text: string; idempotencyKey?: string }): Promise<AcceptResult> {
    const parsed = normalizePhone(input.to);
    if (!parsed.ok) throw new SwitchboardError('SB_ERR_INVALID_PHONE', `to: ${parsed.reason}`, 400);
    if (typeof input.text !== 'string' || input.text.length === 0) {
      throw new SwitchboardError('SB_ERR_VALIDATION', 'text must be a non-empty string', 400);
    }
    return this.#system.send({
      to: parsed.phone,
      text: input.text,
      ...(input.idempotencyKey === undefined ? {} : { idempotencyKey: input.idempotencyKey }),
    });
  }

  async getMessage(id: string): Promise<MessageView | undefined> {
    const m = await this.#system.outbox.find(id);
    return m ? messageView(m) : undefined;
  }

  listMessages(filter: { status?: MessageStatus; master?: string; limit?: number } = {}): {
    messages: MessageView[];
    counts: MessageCounts;
  } {
    if (filter.status !== undefined && !MESSAGE_STATUSES.includes(filter.status)) {
      throw new SwitchboardError(
        'SB_ERR_VALIDATION',
        `unknown status "${filter.status}"; valid: ${MESSAGE_STATUSES.join(', ')}`,
        400,
      );
    }
    const master = filter.master === undefined ? undefined : this.resolveMaster(filter.master);
    const { messages, counts } = this.#system.outbox.list({
      ...(filter.status ? { status: filter.status } : {}),
      ...(master ? { master } : {}),
      limit: filter.limit ?? 100,
    });
    return { messages: messages.map(messageView), counts };
  }

  getFailovers(): FailoverView[] {
    return this.#system.failovers().map((f) => ({
      id: f.id,
      from: f.from,
      to: f.to,
      reason: f.reason,
      manual: f.manual,
      status: f.status,
      startedAt: iso(f.startedAt),
      ...(f.completedAt === undefined ? {} : { completedAt: iso(f.completedAt) }),
      moved: f.moved,
      ...(f.note === undefined ? {} : { note: f.note }),
    }));
  }

  // --- health --------------------------------------------------------------------------------

  /** Ready to take and send messages: the store can write and a master is routable (GET /readyz). */
  readiness():
    | { ready: true; routable: number }
    | { ready: false; code: 'SB_ERR_STORE_UNAVAILABLE' | 'SB_ERR_NOT_READY'; reason: string } {
    if (!this.#store.available) {
      return {
        ready: false,
        code: 'SB_ERR_STORE_UNAVAILABLE',
        reason: `the store cannot write (${this.#store.unavailableReason}): messages are refused until it can`,
      };
    }
    const routable = this.#system.masterPhones().filter((p) => this.#system.balancer.isRoutable(p)).length;
    if (routable === 0)
      return {
        ready: false,
        code: 'SB_ERR_NOT_READY',
        reason: 'no master is routable: messages wait in the queue',
      };
    return { ready: true, routable };
  }

  isReady(): boolean {
    return this.readiness().ready;
  }

  /** Dispatch and store figures since start. */
  getPerformanceMetrics() {
    let sent = 0;
    let failed = 0;
    let unknown = 0;
    let latency = 0;
    for (const d of this.#system.dispatchers.values()) {
      sent += d.stats.sent;
      failed += d.stats.failed;
      unknown += d.stats.unknown;
      latency += d.stats.totalLatencyMs;
    }
    const s = this.#store.stats;
    return {
      sends: { sent, failed, unknown, avgLatencyMs: sent > 0 ? Math.round(latency / sent) : null },
      queueLength: this.#system.outbox.queueLength,
      store: {
        available: this.#store.available,
        commits: s.commits,
        bytes: s.bytes,
        checkpoints: s.checkpoints,
        faults: s.faults,
        recoveries: s.recoveries,
        lastCommitMs: Math.round(s.lastCommitMs * 100) / 100,
        avgCommitMs: s.commits > 0 ? Math.round((s.totalCommitMs / s.commits) * 100) / 100 : null,
      },
    };
  }

  // --- monitor -------------------------------------------------------------------------------

  /** The health report now: fleet and per-master figures over the last report interval, and trends. */
  getHealthReport(): HealthReport {
    return this.#system.monitor.getHealthReport();
  }

  /** What a dashboard shows: the report's figures, active alerts, recent failovers, the last hour. */
  getDashboardData(): DashboardData {
    return this.#system.monitor.getDashboardData();
  }

  /** Alerts, newest first; `severity` and `state` filter (unknown values: 400 SB_ERR_VALIDATION). */
  getAlerts(filter: { severity?: string; state?: string } = {}): AlertView[] {
    const { severity, state } = filter;
    if (severity !== undefined && !ALERT_SEVERITIES.includes(severity as AlertSeverity))
      throw new SwitchboardError(
        'SB_ERR_VALIDATION',
        `unknown severity "${severity}"; valid: ${ALERT_SEVERITIES.join(', ')}`,
        400,
      );
    if (state !== undefined && !ALERT_STATES.includes(state as AlertState))
      throw new SwitchboardError(
        'SB_ERR_VALIDATION',
        `unknown state "${state}"; valid: ${ALERT_STATES.join(', ')}`,
        400,
      );
    return this.#system.monitor
      .getAlerts({
        ...(severity === undefined ? {} : { severity: severity as AlertSeverity }),
        ...(state === undefined ? {} : { state: state as AlertState }),
      })
      .map(alertView);
  }

  /** Acknowledges an alert by id (404 SB_ERR_UNKNOWN_ALERT); an acknowledged or resolved one stays as it is. */
  async acknowledgeAlert(id: string): Promise<AlertView> {
    const alert = await this.#system.monitor.acknowledgeAlert(id);
    return alertView(alert);
  }

  /** The Prometheus text exposition of the service's own registry. */
  metrics(): Promise<{ contentType: string; body: string }> {
    return this.#system.monitor.metrics.scrape();
  }

  // --- simulated masters ---------------------------------------------------------------------

  /** True when at least one master runs on the simulated transport. */
  get hasSimMasters(): boolean {
    return this.config.masters.some((m) => m.transport === 'sim');
  }

  injectFault(phone: string, fault: Fault): void {
    const p = this.resolveMaster(phone);
    if (this.#system.masterConfig(p)?.transport !== 'sim') {
      throw new SwitchboardError('SB_ERR_NOT_SIM', `${p} is not a simulated master`, 409);
    }
    if (!FAULT_KINDS.includes(fault.kind)) {
      throw new SwitchboardError('SB_ERR_VALIDATION', `kind must be one of ${FAULT_KINDS.join(', ')}`, 400);
    }
    this.log.warn({ master: p, fault: fault.kind }, 'sim fault injected');
    this.#system.network.inject(p, fault);
  }

  // --- webhooks ------------------------------------------------------------------------------

  /** Every endpoint (config and API), with its queue counts; secrets are never shown. */
  getWebhooks(): WebhookView[] {
    const w = this.#system.webhooks;
    const counts = new Map<string, { pending: number; parked: number }>();
    for (const d of this.#store.map('webhookDeliveries').values()) {
      const c = counts.get(d.endpoint) ?? { pending: 0, parked: 0 };
      c[d.state]++;
      counts.set(d.endpoint, c);
    }
    return w.endpoints().map((e) => webhookView(e, w.isConfigured(e.id), counts.get(e.id)));
  }

  async addWebhook(input: WebhookEndpointConfig): Promise<WebhookView> {
    return webhookView(await this.#system.webhooks.add(input), false, undefined);
  }

  async removeWebhook(id: string): Promise<{ id: string; dropped: number }> {
    return { id, dropped: await this.#system.webhooks.remove(id) };
  }

  getWebhookDeliveries(state: 'pending' | 'parked', webhook?: string): WebhookDeliveryView[] {
    return this.#system.webhooks.deliveries(state, webhook).map(deliveryView);
  }

  async retryWebhookDelivery(id: string): Promise<WebhookDeliveryView> {
    return deliveryView(await this.#system.webhooks.retry(id));
  }

  discardWebhookDelivery(id: string): Promise<void> {
    return this.#system.webhooks.discard(id);
  }

  simSends(): SimSend[] {
    return this.#system.network.sends;
  }

  /** Stops taking work, lets in-flight sends finish for `graceMs` (then marks them unknown), commits, closes. */
  stop(graceMs = 5_000): Promise<void> {
    this.#stopped ??= (async () => {
      await this.#system.stop(graceMs);
      this.inspection.bridge.close();
      this.inspection.stately?.stop();
      await this.#store.close();
      this.log.info('switchboard stopped');
    })();
    return this.#stopped;
  }
}

export interface WebhookView {
  id: string;
  url: string;
  events: string[];
  signed: boolean;
  includeText: boolean;
  source: 'config' | 'api';
  createdAt: string | null;
  pending: number;
  parked: number;
}

export interface WebhookDeliveryView {
  id: string;
  webhook: string;
  event: { id: string; type: string; timestamp: string };
  state: 'pending' | 'parked';
  attempts: number;
  lastError?: string;
  nextAttemptAt?: string;
  parkedAt?: string;
}

function webhookView(
  e: WebhookEndpoint,
  configured: boolean,
  counts: { pending: number; parked: number } | undefined,
): WebhookView {
  return {
    id: e.id,
    url: e.url,
    events: [...e.events],
    signed: e.secret !== undefined,
    includeText: e.includeText,
    source: configured ? 'config' : 'api',
    createdAt: configured ? null : iso(e.createdAt),
    pending: counts?.pending ?? 0,
    parked: counts?.parked ?? 0,
  };
}

function deliveryView(d: WebhookDelivery): WebhookDeliveryView {
  return {
    id: d.id,
    webhook: d.endpoint,
    event: { id: d.event.id, type: d.event.type, timestamp: iso(d.event.at) },
    state: d.state,
    attempts: d.attempts,
    ...(d.lastError === undefined ? {} : { lastError: d.lastError }),
    ...(d.state === 'pending' ? { nextAttemptAt: iso(d.nextAt) } : {}),
    ...(d.parkedAt === undefined ? {} : { parkedAt: iso(d.parkedAt) }),
  };
}

function messageView(m: MessageRecord): MessageView {
  return {
    id: m.id,
    to: m.to,
    text: m.text,
    status: m.status,
    master: m.master,
    attempts: m.attempts,
    createdAt: iso(m.createdAt),
    ...(m.sentAt === undefined ? {} : { sentAt: iso(m.sentAt) }),
    ...(m.finishedAt === undefined ? {} : { finishedAt: iso(m.finishedAt) }),
    history: m.history.map((h) => ({
      at: iso(h.at),
      status: h.status,
      ...(h.master ? { master: h.master } : {}),
      ...(h.note ? { note: h.note } : {}),
    })),
  };
}

/** A history file closes after this long, so retention can rewrite it soon after its texts expire. */
export function historyMaxAgeMs(config: Config): number {
  return Math.min(3_600_000, Math.max(60_000, (config.retention.textHours * 3_600_000) / 24));
}

/** Opens the store in config.dataDir (taking its lock), starts every actor, and returns the running service. */
export async function createSwitchboard(
  input: Config | ConfigInput = {},
  options: SwitchboardOptions = {},
): Promise<Switchboard> {
  const config = parseConfig(input); // parsing a parsed config is harmless and catches hand-built ones
  const log = options.log ?? createLogger();
  const store = await Store.open(config.dataDir, {
    fsync: options.fsync ?? config.store.fsync,
    segmentBytes: config.store.segmentMiB * 1024 * 1024,
    checkpointBytes: config.store.checkpointMiB * 1024 * 1024,
    checkpointEveryMs: config.store.checkpointEveryMinutes * 60_000,
    history: { maxAgeMs: historyMaxAgeMs(config) },
    log: log.child({ actor: 'store' }),
    ...(options.clock ? { clock: options.clock } : {}),
    ...options.store,
  });
  let inspection: Awaited<ReturnType<typeof createInspection>> | undefined;
  try {
    inspection = await createInspection(config, log);
    const clock = options.clock;
    const network = new SimNetwork({
      ...(clock ? { clock } : {}),
      latencyMs: config.sim.latencyMs,
      seed: config.sim.seed,
    });
    const system = await new SwitchboardSystem({
      config,
      store,
      log,
      network,
      processMetrics: true,
      inspect: inspection.inspect,
      ...(clock ? { clock } : {}),
      transports: new Map<string, Transport>([
        ...(await baileysTransports(config, { dataDir: store.dir, log, ...options.baileys })),
        ...(options.transports ?? []),
      ]),
    }).start();
    log.info(
      {
        masters: config.masters.map((m) => m.phone),
        dataDir: store.dir,
        store: join(store.dir, 'switchboard.json'),
      },
      'switchboard started',
    );
    return new Switchboard(system, store, config, log, inspection);
  } catch (err) {
    inspection?.stately?.stop();
    await store.close().catch(() => undefined);
    throw err;
  }
}

/**
 * The Baileys transports of the config's "baileys" masters. Baileys is imported only when one is
 * configured: loading it costs ~60 MB of resident memory, which a fleet of sim masters does not need.
 */
async function baileysTransports(
  config: Config,
  deps: { dataDir: string; log: Logger } & BaileysOptions,
): Promise<Map<string, Transport>> {
  if (!config.masters.some((m) => m.transport === 'baileys')) return new Map();
  const { createBaileysTransports } = await import('../actors/transports/baileys/index.ts');
  return createBaileysTransports(config, deps);
}

/**
 * The inspection observer for every actor: the inspector page's bridge, plus Stately's when configured
 * (@statelyai/inspect is imported only then: ~17 MB resident otherwise spent for nothing).
 */
async function createInspection(
  config: Config,
  log: Logger,
): Promise<Inspection & { inspect: (event: InspectionEvent) => void }> {
  const fleet = new Set(config.masters.map((m) => m.phone));
  const bridge = new InspectionBridge({
    capacity: config.inspector.bufferSize,
    isFleetNumber: (phone) => fleet.has(phone),
  });
  if (!config.inspector.stately) return { bridge, inspect: bridge.inspect };
  const { startStatelyInspector } = await import('../inspector/stately.ts');
  const stately = startStatelyInspector({
    port: config.inspector.statelyPort,
    isFleetNumber: (phone) => fleet.has(phone),
  });
  log.info(
    { url: stately.url },
    `Stately's inspector: open ${stately.url} in a browser (it loads https://stately.ai/inspect: needs the internet)`,
  );
  return {
    bridge,
    stately,
    inspect: (event) => {
      bridge.inspect(event);
      stately.inspect.next?.(event);
    },
  };
}
