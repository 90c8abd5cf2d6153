// Wires the running system: the supervisor (root actor) with its masters and failover incidents,
// the balancer, one dispatcher per master, the assigner, the outbox on the store, the transports.
// Whatever depends on the store is derived from it: at start-up and whenever the store reloads
// after a failed write, the same fix-ups run (sends in flight become unknown, orphans go back to
// the queue, interrupted incidents are finished) and every index is rebuilt from the disk's state.
import { type Actor, createActor, fromPromise, type InspectionEvent, type Observer } from 'xstate';
import { type AuditInput, failoverMachine, type Moved } from '../machines/failover.machine.ts';
import type { MasterEmitted } from '../machines/master.machine.ts';
import { supervisorMachine } from '../machines/supervisor.machine.ts';
import { chooseBackup } from '../src/backup.ts';
import { type Config, type MasterConfig, masterSettingsFrom } from '../src/config.ts';
import { SwitchboardError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';
import { type AcceptResult, Outbox, type OutboxChange } from '../src/outbox.ts';
import type { FailoverRecord } from '../src/store/schema.ts';
import type { Store, StoreEvent, Transaction } from '../src/store/store.ts';
import { DeliveryWorker, type Fetch } from '../src/webhooks/delivery.ts';
import { Webhooks } from '../src/webhooks/webhooks.ts';
import { Assigner } from './assigner.ts';
import { type Balancer, type BalancerActor, createBalancer } from './balancer.actor.ts';
import { type Clock, realClock } from './clock.ts';
import { Dispatcher } from './dispatcher.ts';
import { createMasterLogic } from './master.actor.ts';
import { logMaster } from './master-log.ts';
import { Monitor } from './monitor.actor.ts';
import { SimNetwork } from './sim.transport.ts';
import type { Transport } from './transport.ts';

export interface SystemOptions {
  config: Config;
  store: Store;
  log: Logger;
  clock?: Clock;
  /** The simulated network for sim masters (one is made from config.sim when absent). */
  network?: SimNetwork;
  /** Transports for non-sim masters, by phone. */
  transports?: Map<string, Transport>;
  /** prom-client's process metrics in the monitor's registry (the service turns them on). */
  processMetrics?: boolean;
  /** XState inspection observer for every actor (the inspector's bridge); none: no inspection. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /**
   * The source of every random choice (least-loaded's draws, message ids): a seeded one makes a
   * run replayable (the simulation). Default Math.random and crypto.randomUUID.
   */
  random?: () => number;
  /** How webhook requests are made (default the global fetch). */
  fetch?: Fetch;
}

/** A UUID-shaped id from `random` (version 4 layout), for replayable runs. */
export function uuidFrom(random: () => number): () => string {
  return () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
    hex[12] = '4';
    hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
    const h = hex.join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
}

interface FailoverDeps {
  selectBackup: (input: {
    id: string;
    from: string;
    preferred: string | undefined;
  }) => Promise<string | null>;
  transfer: (input: {
    id: string;
    from: string;
    to: string | null;
    reason: string;
    manual: boolean;
  }) => Promise<Moved>;
  activate: (input: { id: string; from: string; to: string | null }) => Promise<void>;
  audit: (input: AuditInput) => Promise<void>;
}

function makeSupervisorLogic(
  deps: FailoverDeps & { transportFor: (phone: string) => Transport; clock: Clock },
) {
  const failover = failoverMachine.provide({
    actors: {
      selectBackup: fromPromiseOf(deps.selectBackup),
      transfer: fromPromiseOf(deps.transfer),
      activate: fromPromiseOf(deps.activate),
      audit: fromPromiseOf(deps.audit),
    },
  });
  return supervisorMachine.provide({
    actors: { master: createMasterLogic({ transportFor: deps.transportFor, clock: deps.clock }), failover },
  });
}

/** fromPromise typed by the function it wraps. */
function fromPromiseOf<I, O>(fn: (input: I) => Promise<O>) {
  return fromPromise<O, I>(({ input }) => fn(input));
}

export type SupervisorLogic = ReturnType<typeof makeSupervisorLogic>;

const FINAL: ReadonlySet<FailoverRecord['status']> = new Set(['completed', 'rolledBack']);

export class SwitchboardSystem {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly store: Store;
  readonly outbox: Outbox;
  readonly network: SimNetwork;
  readonly balancer: Balancer & { readonly actor: BalancerActor };
  readonly supervisor: Actor<SupervisorLogic>;
  readonly monitor: Monitor;
  readonly dispatchers = new Map<string, Dispatcher>();
  readonly assigner: Assigner;
  /** Webhook endpoints and the recording of events (README "Webhooks"). */
  readonly webhooks: Webhooks;
  readonly webhookDelivery: DeliveryWorker;
  readonly #masters = new Map<string, MasterConfig>();
  readonly #transports: Map<string, Transport>;
  readonly #startedAt = new Map<string, number>();
  readonly #since = new Map<string, number>();
  readonly #cleanups: (() => void)[] = [];
  /** Audit records whose write failed (the store was down): written once it is back. */
  readonly #unwrittenAudits = new Map<string, FailoverRecord>();
  /** Last unsent count per master, to notice when room opens. */
  readonly #owned = new Map<string, number>();
  #stopping = false;
  #retentionTimer: unknown;

  constructor(options: SystemOptions) {
    const { config, store, log } = options;
    this.config = config;
    this.store = store;
    this.log = log;
    this.clock = options.clock ?? realClock;
    this.network =
      options.network ??
      new SimNetwork({ clock: this.clock, latencyMs: config.sim.latencyMs, seed: config.sim.seed });
    this.#transports = new Map(options.transports);
    for (const m of config.masters) {
      const stored = store.get('masters', m.phone);
      this.#masters.set(m.phone, stored?.priority === undefined ? m : { ...m, priority: stored.priority });
      if (m.transport === 'sim') this.#transports.set(m.phone, this.network.account(m.phone));
      else if (!this.#transports.has(m.phone)) {
        throw new SwitchboardError(
          'SB_ERR_CONFIG',
          `master ${m.phone}: transport "${m.transport}" is not available`,
        );
      }
    }
    this.outbox = new Outbox(store, this.clock, {
      maxAttempts: config.dispatch.maxAttempts,
      ...(options.random ? { newId: uuidFrom(options.random) } : {}),
    });
    this.webhooks = new Webhooks({
      store,
      clock: this.clock,
      log: log.child({ actor: 'webhooks' }),
      configured: config.webhooks,
      ...(options.random ? { newId: uuidFrom(options.random) } : {}),
    });
    // Message events commit in the transaction of the status change they report.
    this.outbox.onTransition((tx, m, previous) => this.webhooks.recordMessage(tx, m, previous));

    this.balancer = createBalancer({
      clock: this.clock,
      strategy: config.balancer.strategy,
      affinity: config.balancer.affinity,
      // A master holds at most this many unsent messages; the rest wait in the shared queue, so a
      // failover has little to move and least-loaded sees real load.
      maxInFlight: config.dispatch.maxInFlight * 2,
      affinityStore: {
        get: (to) => store.get('affinity', to),
        // Recorded in the assignment's own transaction (the assigner's pass is one).
        set: (to, phone) => {
          store.transaction((tx) => tx.put('affinity', to, phone)).catch(() => undefined);
        },
      },
      log,
      ...(options.random ? { random: options.random } : {}),
      inspect: options.inspect,
    });

    this.assigner = new Assigner({
      outbox: this.outbox,
      clock: this.clock,
      log,
      router: {
        select: (to, avoid) => this.balancer.select(to, avoid),
        waitingFor: (to) => this.balancer.waitingFor(to),
        eligible: (phone) => this.balancer.eligible(phone),
        isRoutable: (phone) => this.balancer.isRoutable(phone),
        othersRoutable: (phone) =>
          this.masterPhones().some((p) => p !== phone && this.balancer.isRoutable(p)),
        anyEligible: () => this.balancer.hasCapacity(),
      },
    });

    const logic = makeSupervisorLogic({
      transportFor: (phone) => this.transport(phone),
      clock: this.clock,
      selectBackup: async ({ id, from, preferred }) => {
        this.#startedAt.set(id, this.clock.now());
        return this.selectBackupMaster(from, preferred);
      },
      transfer: (input) => this.#transfer(input),
      activate: async ({ to }) => {
        if (to === null) return;
        if (!this.balancer.isRoutable(to)) throw new Error(`backup ${to} stopped being routable`);
        this.dispatchers.get(to)?.kick();
      },
      audit: (input) => this.#audit(input),
    });

    const incidents = [...store.map('failovers').keys()].map((id) => Number(id.slice(3)) || 0);
    this.supervisor = createActor(logic, {
      clock: this.clock,
      systemId: 'supervisor',
      inspect: options.inspect,
      input: {
        masters: config.masters.map((m) => ({ phone: m.phone, settings: masterSettingsFrom(config) })),
        firstIncident: Math.max(store.get('meta', 'incident') ?? 0, ...incidents, 0) + 1,
      },
    });
    this.monitor = new Monitor(this, {
      processMetrics: options.processMetrics ?? false,
      inspect: options.inspect,
    });
    this.webhookDelivery = new DeliveryWorker({
      webhooks: this.webhooks,
      store,
      clock: this.clock,
      log: log.child({ actor: 'webhooks' }),
      settings: config.webhookDelivery,
      registry: this.monitor.metrics.registry,
      readText: async (id) => (await this.outbox.find(id))?.text,
      ...(options.random ? { random: options.random } : {}),
      ...(options.fetch ? { fetch: options.fetch } : {}),
    });
  }

  /** Puts an audit record; reaching a final status records its webhook event in the same transaction. */
  #putAudit(tx: Transaction, record: FailoverRecord): void {
    const before = tx.get('failovers', record.id);
    tx.put('failovers', record.id, record);
    if (!FINAL.has(record.status) || (before && FINAL.has(before.status))) return;
    this.webhooks.record(
      tx,
      record.status === 'completed' ? 'failover.completed' : 'failover.rolledBack',
      {
        failoverId: record.id,
        from: record.from,
        to: record.to,
        reason: record.reason,
        manual: record.manual,
        status: record.status,
        moved: record.moved,
        ...(record.note ? { note: record.note } : {}),
      },
      `failover:${record.id}`,
      record.completedAt,
    );
  }

  transport(phone: string): Transport {
    const t = this.#transports.get(phone);
    if (!t) throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${phone}`, 404);
    return t;
  }

  /** Starts the actors and dispatch; resolves once the start-up fix-ups are on disk (or the store went down). */
  async start(): Promise<this> {
    this.#cleanups.push(this.outbox.onChange((change) => this.#onOutbox(change)));
    this.#cleanups.push(this.store.onEvent((event) => this.#onStore(event)));
    this.supervisor.start();
    this.monitor.start();
    this.#cleanups.push(() => this.monitor.stop());
    for (const [phone, ref] of Object.entries(this.supervisor.getSnapshot().context.masters)) {
      const cfg = this.#masters.get(phone);
      if (!cfg) continue;
      this.#since.set(phone, this.clock.now());
      this.#cleanups.push(logMaster(ref, this.log));
      const forward = ref.on('*', (event: MasterEmitted) => {
        if (this.#stopping) return;
        if (event.type === 'master.failed')
          this.webhooks.recordAlone(
            'master.failed',
            { master: phone, reason: event.reason, permanent: event.permanent },
            `master:${phone}`,
          );
        else if (event.type === 'master.recovered')
          this.webhooks.recordAlone('master.recovered', { master: phone }, `master:${phone}`);
        this.supervisor.send(event);
      });
      this.#cleanups.push(() => forward.unsubscribe());
      this.balancer.addMaster({ ...cfg, warmUpMs: cfg.warmUpMinutes * 60_000 }, ref);
      this.balancer.setLoad(phone, this.outbox.ownedCount(phone));
      const dispatcher = new Dispatcher({
        phone,
        outbox: this.outbox,
        transport: this.transport(phone),
        clock: this.clock,
        master: ref,
        sendTimeoutMs: this.config.dispatch.sendTimeoutMs,
        maxInFlight: this.config.dispatch.maxInFlight,
        log: this.log.child({ master: phone, actor: 'dispatcher' }),
        // (A resend avoids this master: the assigner reads that from the message's history.)
        onOutcome: (_m, outcome, latencyMs) => {
          this.balancer.observe(phone, outcome === 'sent' ? 'sent' : 'failed', latencyMs);
          this.monitor.sendFinished(phone, outcome, latencyMs);
        },
      });
      this.dispatchers.set(phone, dispatcher);
      let lastTop = '';
      let wasRoutable: boolean | undefined;
      const sub = ref.subscribe((snapshot) => {
        const top =
          typeof snapshot.value === 'string' ? snapshot.value : (Object.keys(snapshot.value)[0] ?? '');
        if (top !== lastTop) {
          lastTop = top;
          this.#since.set(phone, this.clock.now());
        }
        // Every probe makes a snapshot; only a change of routability is news to dispatch.
        const routable = snapshot.hasTag('routable');
        if (routable === wasRoutable) return;
        wasRoutable = routable;
        dispatcher.setRoutable(routable);
        if (routable) this.assigner.schedule();
      });
      this.#cleanups.push(() => sub.unsubscribe());
    }
    await this.#fixUp('the service stopped').catch((err: unknown) =>
      this.log.error({ err }, 'start-up fix-ups not written; they run again when the store can write'),
    );
    this.assigner.rebuild();
    this.#armRetention();
    this.webhookDelivery.start();
    return this;
  }

  /** Texts of finished messages are removed `retention.textHours` after they finished (README "Security"). */
  #armRetention(): void {
    const hours = this.config.retention.textHours;
    const textMs = hours * 3_600_000;
    const every = Math.min(600_000, Math.max(60_000, textMs / 48));
    this.#retentionTimer = this.clock.setTimeout(() => {
      this.#retentionTimer = undefined;
      if (this.#stopping) return;
      const before = this.clock.now() - textMs;
      const note = `text removed after ${hours} h`;
      const recent = this.outbox.removeRecentTexts(before, note);
      void this.store
        .removeArchivedTexts(before, note)
        .then((files) => {
          if (files > 0 || recent > 0)
            this.log.info({ files, recent, hours }, 'retention: texts of finished messages removed');
        })
        .catch((err: unknown) => this.log.error({ err }, 'retention sweep failed; it runs again'))
        .finally(() => this.#armRetention());
    }, every);
  }

  /**
   * What start-up and a store reload have in common: the state is what the disk holds, so sends that
   * were on the wire are unknown, orphans of removed masters go back to the queue, and incidents
   * the stop interrupted are finished in the audit log.
   */
  async #fixUp(why: string): Promise<void> {
    const recovered = this.outbox.recoverInFlight(why);
    const orphans = this.outbox.requeueOrphans(new Set(this.#masters.keys()));
    const audits = this.#finishInterruptedIncidents();
    const [n, o] = await Promise.all([recovered, orphans, audits]);
    if (n > 0) this.log.warn({ messages: n }, `sends in flight when ${why} are now unknown and go out again`);
    if (o > 0) this.log.warn({ messages: o }, 'messages of masters no longer configured are queued again');
  }

  #finishInterruptedIncidents(): Promise<void> {
    const running = new Set(Object.values(this.supervisor.getSnapshot().context.incidents).map((i) => i.id));
    const now = this.clock.now();
    const records = [...this.#unwrittenAudits.values()];
    this.#unwrittenAudits.clear();
    for (const f of this.store.map('failovers').values()) {
      if (FINAL.has(f.status) || running.has(f.id)) continue;
      records.push(
        f.status === 'activating'
          ? {
              ...f,
              status: 'completed',
              completedAt: now,
              note: `${f.note ? `${f.note}; ` : ''}finished after an interruption (the transfer had committed)`,
            }
          : {
              ...f,
              status: 'rolledBack',
              completedAt: now,
              note: 'interrupted before anything moved; it runs again while the master is down',
            },
      );
    }
    if (records.length === 0) return Promise.resolve();
    return this.store.transaction((tx) => {
      for (const r of records) this.#putAudit(tx, r);
    });
  }

  #onOutbox(change: OutboxChange): void {
    switch (change.type) {
      case 'queued':
        this.assigner.queued(change.to);
        return;
      case 'owned': {
        const before = this.#owned.get(change.master) ?? 0;
        this.#owned.set(change.master, change.count);
        this.balancer.setLoad(change.master, change.count);
        this.dispatchers.get(change.master)?.kick();
        if (change.count < before) this.assigner.schedule(); // room opened on that master
        return;
      }
      case 'rebuilt':
        for (const phone of this.#masters.keys()) {
          this.#owned.set(phone, this.outbox.ownedCount(phone));
          this.balancer.setLoad(phone, this.outbox.ownedCount(phone));
        }
        return;
      case 'status':
        return;
    }
  }

  #onStore(event: StoreEvent): void {
    if (event.type === 'unavailable') {
      // The store rolled memory back to the disk: nothing new goes out until it can write again.
      // (The outbox has rebuilt its indexes from the rolled-back state already: it listens first.)
      this.assigner.setPaused(true);
      for (const d of this.dispatchers.values()) d.setPaused(true);
      this.assigner.rebuild();
    } else if (event.type === 'recovered') {
      void this.#fixUp('the store failed')
        .catch((err: unknown) => this.log.error({ err }, 'fix-ups after the store recovered not written'))
        .finally(() => {
          if (!this.store.available) return;
          this.assigner.rebuild();
          this.assigner.setPaused(false);
          for (const d of this.dispatchers.values()) d.setPaused(false);
        });
    }
  }

  async #transfer({
    id,
    from,
    to,
    reason,
    manual,
  }: {
    id: string;
    from: string;
    to: string | null;
    reason: string;
    manual: boolean;
  }): Promise<Moved> {
    // The backup was routable when it was chosen; if it failed since (a transfer that waited for the
    // disk, say), its own incident may have run already and would not run again: nothing may move
    // onto it. Checked in the same tick the transfer is applied, so no state change can fall between.
    const lost = to !== null && !this.masterRef(to)?.getSnapshot().hasTag('routable');
    const target = lost ? null : to;
    const note = target
      ? `failover ${id}: moved from ${from} to ${target}`
      : lost
        ? `failover ${id}: ${from} failed; its backup ${to} failed before the transfer, no backup`
        : `failover ${id}: ${from} failed, no backup`;
    const number = Number(id.slice(3)) || 0;
    const result = await this.outbox.transfer(from, target, note, (tx, moved) => {
      tx.put('failovers', id, {
        id,
        from,
        to: target,
        reason,
        manual,
        status: 'activating',
        startedAt: this.#startedAt.get(id) ?? this.clock.now(),
        moved: { messages: moved.messages, contacts: moved.contacts },
        ...(target
          ? {}
          : {
              note: `${lost ? `backup ${to} failed before the transfer; ` : ''}no routable backup: ${moved.messages} messages wait in the queue`,
            }),
      });
      if ((tx.get('meta', 'incident') ?? 0) < number) tx.put('meta', 'incident', number);
    });
    this.log.warn(
      { failover: id, from, to: target, messages: result.messages, contacts: result.contacts },
      target ? 'failover: transfer committed' : 'failover: no backup, messages returned to the queue',
    );
    return { messages: result.messages, contacts: result.contacts, ...(lost ? { backup: null } : {}) };
  }

  async #audit(input: AuditInput): Promise<void> {
    const startedAt = this.#startedAt.get(input.id) ?? this.clock.now();
    this.#startedAt.delete(input.id);
    const existing = this.store.get('failovers', input.id);
    const note = input.note ?? existing?.note;
    const record: FailoverRecord = {
      id: input.id,
      from: input.from,
      to: input.backup,
      reason: input.reason,
      manual: input.manual,
      status: input.status,
      startedAt: existing?.startedAt ?? startedAt,
      completedAt: this.clock.now(),
      moved: input.moved,
      ...(note ? { note } : {}),
    };
    const level = input.status === 'completed' ? 'info' : 'error';
    this.log[level](
      { failover: input.id, from: input.from, to: input.backup, note: input.note },
      `failover ${input.status}`,
    );
    try {
      await this.store.transaction((tx) => {
        this.#putAudit(tx, record);
        if (input.status === 'completed') {
          const m = tx.get('masters', input.from);
          tx.put('masters', input.from, { ...m, failovers: (m?.failovers ?? 0) + 1 });
        }
      });
    } catch (err) {
      this.#unwrittenAudits.set(record.id, record);
      this.log.warn({ err, failover: input.id }, 'audit record not written yet: the store cannot write');
    }
  }

  /** Accepts a message for sending; resolves once it is durable (the HTTP 202). */
  send(input: { to: string; text: string; idempotencyKey?: string }): Promise<AcceptResult> {
    if (this.#stopping)
      return Promise.reject(new SwitchboardError('SB_ERR_STOPPING', 'the service is stopping', 503));
    return this.outbox.accept(input);
  }

  masterConfig(phone: string): MasterConfig | undefined {
    return this.#masters.get(phone);
  }

  masterPhones(): string[] {
    return [...this.#masters.keys()];
  }

  masterRef(phone: string) {
    return this.supervisor.getSnapshot().context.masters[phone];
  }

  /** When the master entered its current top-level state (clock ms). */
  since(phone: string): number | undefined {
    return this.#since.get(phone);
  }

  selectBackupMaster(from: string, preferred?: string): string | null {
    const failed = this.#masters.get(from);
    if (!failed) throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${from}`, 404);
    const candidates = [...this.#masters.values()].map((m) => ({
      phone: m.phone,
      routable: this.balancer.isRoutable(m.phone),
      healthy: this.masterRef(m.phone)?.getSnapshot().matches('healthy') ?? false,
      priority: m.priority,
      region: m.region,
      ratePerMinute: m.ratePerMinute,
      pending: this.outbox.ownedCount(m.phone),
    }));
    return chooseBackup({ phone: from, region: failed.region }, candidates, preferred);
  }

  /** Starts a manual failover (its source is drained until reset); returns the incident id. */
  executeFailover(from: string, to?: string): string {
    if (!this.#masters.has(from))
      throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${from}`, 404);
    if (to !== undefined) this.selectBackupMaster(from, to); // validates `to` now, so the caller hears why
    const open = this.supervisor.getSnapshot().context.incidents[from];
    if (open)
      throw new SwitchboardError(
        'SB_ERR_NO_BACKUP',
        `failover ${open.id} for ${from} is already running`,
        409,
      );
    this.supervisor.send({ type: 'failover.execute', from, ...(to ? { to } : {}) });
    const incident = this.supervisor.getSnapshot().context.incidents[from];
    if (!incident) throw new SwitchboardError('SB_ERR_NO_BACKUP', `failover for ${from} did not start`, 409);
    return incident.id;
  }

  manualReset(phone: string): void {
    if (!this.#masters.has(phone))
      throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${phone}`, 404);
    this.supervisor.send({ type: 'master.reset', phone });
  }

  /** Changes a master's priority for routing and backup choice; it outlives a restart. */
  async updateRoutingPriorities(phone: string, priority: number): Promise<void> {
    const cfg = this.#masters.get(phone);
    if (!cfg) throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${phone}`, 404);
    await this.store.transaction((tx) => {
      const m = tx.get('masters', phone);
      tx.put('masters', phone, { failovers: m?.failovers ?? 0, priority });
    });
    this.#masters.set(phone, { ...cfg, priority });
    this.balancer.updateRoutingPriorities(phone, priority);
  }

  /** Incidents: the audit log plus the ones still running, newest first. */
  failovers(): FailoverRecord[] {
    const stored = [...this.store.map('failovers').values()];
    for (const r of this.#unwrittenAudits.values()) if (!this.store.get('failovers', r.id)) stored.push(r);
    const known = new Set(stored.map((f) => f.id));
    const running: FailoverRecord[] = [];
    for (const incident of Object.values(this.supervisor.getSnapshot().context.incidents)) {
      if (known.has(incident.id)) continue;
      running.push({
        id: incident.id,
        from: incident.from,
        to: null,
        reason: incident.reason,
        manual: incident.manual,
        status: 'selecting',
        startedAt: this.#startedAt.get(incident.id) ?? this.clock.now(),
        moved: { messages: 0, contacts: 0 },
      });
    }
    return [...stored, ...running].sort((a, b) => b.startedAt - a.startedAt || b.id.localeCompare(a.id));
  }

  /** Stops taking work, gives in-flight sends `graceMs` to finish, commits, closes transports. */
  async stop(graceMs = 0): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#retentionTimer !== undefined) this.clock.clearTimeout(this.#retentionTimer);
    // No alert or report writes from here on: the final flush below must not chase new ones, and the
    // shutdown itself (sends aborted, masters stopped) is no condition to alert on.
    this.monitor.stop();
    this.assigner.stop();
    await Promise.all([
      ...[...this.dispatchers.values()].map((d) => d.stop(graceMs)),
      this.webhookDelivery.stop(),
    ]);
    await this.store.flushed().catch((err: unknown) => this.log.error({ err }, 'final commit failed'));
    for (const c of this.#cleanups) c();
    this.supervisor.stop();
    this.balancer.stop();
    await Promise.allSettled([...this.#transports.values()].map((t) => t.close()));
  }

  /** Drops everything at once without writing (a simulated crash: the store is halted by the caller). */
  halt(): void {
    this.#stopping = true;
    if (this.#retentionTimer !== undefined) this.clock.clearTimeout(this.#retentionTimer);
    this.assigner.stop();
    void this.webhookDelivery.stop();
    for (const d of this.dispatchers.values()) d.halt();
    for (const c of this.#cleanups) c();
    this.supervisor.stop();
    this.balancer.stop();
    for (const t of this.#transports.values()) void t.close();
  }
}
