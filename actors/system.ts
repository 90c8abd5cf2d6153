// Wires the running system: the supervisor (root actor) with its masters and failover incidents,
// the balancer, one dispatcher per master, the assigner, the outbox on the store, the transports.
import { type Actor, createActor, fromPromise, type InspectionEvent, type Observer } from 'xstate';
import { type AuditInput, failoverMachine, type Moved } from '../machines/failover.machine.ts';
import type { MasterEmitted } from '../machines/master.machine.ts';
import { supervisorMachine } from '../machines/supervisor.machine.ts';
import { chooseBackup } from '../src/backup.ts';
import { type Config, type MasterConfig, masterSettingsFrom } from '../src/config.ts';
import { SwitchboardError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';
import { type AcceptResult, Outbox } from '../src/outbox.ts';
import type { HistoryLog } from '../src/store/history.ts';
import type { FailoverRecord, MasterRecord, StoreData } from '../src/store/schema.ts';
import type { Store } from '../src/store/store.ts';
import { Assigner } from './assigner.ts';
import { type Balancer, createBalancer } from './balancer.actor.ts';
import { type Clock, realClock } from './clock.ts';
import { Dispatcher } from './dispatcher.ts';
import { createMasterLogic } from './master.actor.ts';
import { logMaster } from './master-log.ts';
import { SimNetwork } from './sim.transport.ts';
import type { Transport } from './transport.ts';

export interface SystemOptions {
  config: Config;
  store: Store;
  log: Logger;
  clock?: Clock;
  history?: HistoryLog;
  /** The simulated network for sim masters (one is made from config.sim when absent). */
  network?: SimNetwork;
  /** Transports for non-sim masters, by phone (Baileys, later). */
  transports?: Map<string, Transport>;
  /** XState inspection observer for every actor (the inspector's bridge); none: no inspection. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

function makeSupervisorLogic(deps: {
  transportFor: (phone: string) => Transport;
  clock: Clock;
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
}) {
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

export class SwitchboardSystem {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly store: Store;
  readonly outbox: Outbox;
  readonly network: SimNetwork;
  readonly balancer: Balancer;
  readonly supervisor: Actor<SupervisorLogic>;
  readonly dispatchers = new Map<string, Dispatcher>();
  readonly assigner: Assigner;
  readonly #masters = new Map<string, MasterConfig>();
  readonly #transports: Map<string, Transport>;
  readonly #startedAt = new Map<string, number>();
  readonly #since = new Map<string, number>();
  readonly #cleanups: (() => void)[] = [];
  #stopping = false;

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
      const stored = store.data.masters[m.phone];
      this.#masters.set(m.phone, stored?.priority === undefined ? m : { ...m, priority: stored.priority });
      if (m.transport === 'sim') this.#transports.set(m.phone, this.network.account(m.phone));
      else if (!this.#transports.has(m.phone)) {
        throw new SwitchboardError(
          'SB_ERR_CONFIG',
          `master ${m.phone}: transport "${m.transport}" is not available`,
        );
      }
    }
    this.outbox = new Outbox(store, this.clock, options.history);
    const recovered = this.outbox.recoverAfterRestart();
    if (recovered > 0)
      log.warn({ messages: recovered }, 'sends in flight at the last stop are now unknown and go out again');
    const orphans = this.outbox.requeueOrphans(new Set(this.#masters.keys()));
    if (orphans > 0)
      log.warn({ messages: orphans }, 'messages of masters no longer configured are queued again');

    this.balancer = createBalancer({
      clock: this.clock,
      strategy: config.balancer.strategy,
      affinity: config.balancer.affinity,
      // A master holds at most this many unsent messages; the rest wait in the shared queue, so a
      // failover has little to move and least-loaded sees real load.
      maxInFlight: config.dispatch.maxInFlight * 2,
      affinityStore: {
        get: (to) => store.data.affinity[to],
        set: (to, phone) => {
          store.data.affinity[to] = phone;
        },
      },
      log: log.child({ actor: 'balancer' }),
      inspect: options.inspect,
    });

    this.assigner = new Assigner({
      outbox: this.outbox,
      clock: this.clock,
      log,
      router: {
        select: (to, avoid) => this.balancer.select(to, avoid),
        release: (phone, outcome, latencyMs) => this.balancer.release(phone, outcome, latencyMs),
        anyRoutable: () => this.balancer.hasCapacity(),
      },
      onAssigned: (masters) => {
        for (const phone of masters) this.dispatchers.get(phone)?.kick();
      },
    });
    this.#cleanups.push(
      this.outbox.onChange((change) => {
        if (change.type === 'accepted' || change.type === 'requeued' || change.type === 'transferred') {
          this.assigner.schedule();
        }
        if (change.type === 'released') this.dispatchers.get(change.master)?.kick();
      }),
    );

    const settings = masterSettingsFrom(config);
    const logic = makeSupervisorLogic({
      transportFor: (phone) => this.transport(phone),
      clock: this.clock,
      selectBackup: async ({ id, from, preferred }) => {
        this.#startedAt.set(id, this.clock.now());
        return this.selectBackupMaster(from, preferred);
      },
      transfer: async ({ id, from, to, reason, manual }) => {
        const note = to
          ? `failover ${id}: moved from ${from} to ${to}`
          : `failover ${id}: ${from} failed, no backup`;
        const result = await this.outbox.transfer(from, to, note, (data, moved) =>
          this.#upsertAudit(data, {
            id,
            from,
            to,
            reason,
            manual,
            status: 'activating',
            startedAt: this.#startedAt.get(id) ?? this.clock.now(),
            moved: { messages: moved.messages, contacts: moved.contacts },
            ...(to ? {} : { note: `no routable backup: ${moved.messages} messages wait in the queue` }),
          }),
        );
        this.assigner.moved(result.ids);
        this.log.warn(
          { failover: id, from, to, messages: result.messages, contacts: result.contacts },
          to ? 'failover: transfer committed' : 'failover: no backup, messages returned to the queue',
        );
        return { messages: result.messages, contacts: result.contacts };
      },
      activate: async ({ to }) => {
        if (to === null) return;
        if (!this.balancer.isRoutable(to)) throw new Error(`backup ${to} stopped being routable`);
        this.dispatchers.get(to)?.kick();
      },
      audit: async (input) => {
        const startedAt = this.#startedAt.get(input.id) ?? this.clock.now();
        this.#startedAt.delete(input.id);
        const existing = store.data.failovers.find((f) => f.id === input.id);
        this.#upsertAudit(store.data, {
          id: input.id,
          from: input.from,
          to: input.backup,
          reason: input.reason,
          manual: input.manual,
          status: input.status,
          startedAt: existing?.startedAt ?? startedAt,
          completedAt: this.clock.now(),
          moved: input.moved,
          ...((input.note ?? existing?.note) ? { note: input.note ?? existing?.note } : {}),
        });
        if (input.status === 'completed') this.#masterRecord(input.from).failovers++;
        await store.commit();
        const level = input.status === 'completed' ? 'info' : 'error';
        this.log[level](
          { failover: input.id, from: input.from, to: input.backup, note: input.note },
          `failover ${input.status}`,
        );
      },
    });

    this.supervisor = createActor(logic, {
      clock: this.clock,
      systemId: 'supervisor',
      inspect: options.inspect,
      input: {
        masters: config.masters.map((m) => ({ phone: m.phone, settings })),
        firstIncident: store.data.failovers.length + 1,
      },
    });
  }

  transport(phone: string): Transport {
    const t = this.#transports.get(phone);
    if (!t) throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${phone}`, 404);
    return t;
  }

  start(): this {
    this.supervisor.start();
    for (const [phone, ref] of Object.entries(this.supervisor.getSnapshot().context.masters)) {
      const cfg = this.#masters.get(phone);
      if (!cfg) continue;
      this.#since.set(phone, this.clock.now());
      this.#cleanups.push(logMaster(ref, this.log));
      const forward = ref.on('*', (event: MasterEmitted) => {
        if (!this.#stopping) this.supervisor.send(event);
      });
      this.#cleanups.push(() => forward.unsubscribe());
      this.balancer.addMaster({ ...cfg, warmUpMs: cfg.warmUpMinutes * 60_000 }, ref);
      const dispatcher = new Dispatcher({
        phone,
        outbox: this.outbox,
        transport: this.transport(phone),
        clock: this.clock,
        master: ref,
        sendTimeoutMs: this.config.dispatch.sendTimeoutMs,
        maxInFlight: this.config.dispatch.maxInFlight,
        log: this.log.child({ master: phone, actor: 'dispatcher' }),
        onOutcome: (id, outcome, latencyMs) => this.assigner.settle(id, outcome, latencyMs),
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
    this.assigner.schedule();
    return this;
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

  /** Starts a manual failover; resolves with its id once the incident is running. */
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
    this.#masters.set(phone, { ...cfg, priority });
    this.balancer.updateRoutingPriorities(phone, priority);
    this.#masterRecord(phone).priority = priority;
    await this.store.commit();
  }

  /** Incidents: the audit log plus the ones still running, newest first. */
  failovers(): FailoverRecord[] {
    const stored = this.store.data.failovers;
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
    return [...stored, ...running].sort((a, b) => b.startedAt - a.startedAt);
  }

  /** The master's persistent record, created on first use. */
  #masterRecord(phone: string): MasterRecord {
    let record = this.store.data.masters[phone];
    if (!record) {
      record = { failovers: 0 };
      this.store.data.masters[phone] = record;
    }
    return record;
  }

  #upsertAudit(data: StoreData, record: FailoverRecord): void {
    const i = data.failovers.findIndex((f) => f.id === record.id);
    if (i >= 0) data.failovers[i] = record;
    else data.failovers.push(record);
  }

  /** Stops taking work, gives in-flight sends `graceMs` to finish, commits, closes transports. */
  async stop(graceMs = 0): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.assigner.stop();
    await Promise.all([...this.dispatchers.values()].map((d) => d.stop(graceMs)));
    for (const c of this.#cleanups) c();
    this.supervisor.stop();
    this.balancer.stop();
    await Promise.allSettled([...this.#transports.values()].map((t) => t.close()));
    await this.store.commit().catch((err: unknown) => this.log.error({ err }, 'final commit failed'));
  }
}
