// The balancer: provides balancerMachine with a routing table kept in this closure (mutated in place,
// never copied per event), follows every master actor's snapshots through the `routable` tag, and
// answers routing decisions synchronously for the dispatcher and the HTTP layer.
import {
  type Actor,
  type AnyActorRef,
  createActor,
  type InspectionEvent,
  type Observer,
  type Subscription,
} from 'xstate';
import { type BalancerMasterRoute, balancerMachine } from '../machines/balancer.machine.ts';
import { SwitchboardError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';
import {
  type AffinityMove,
  type AffinityMoveReason,
  type AffinityStore,
  MemoryAffinityStore,
} from '../src/routing/affinity.ts';
import { balanceQuality } from '../src/routing/quality.ts';
import { CountryLookup } from '../src/routing/recipient-country.ts';
import { assertStrategyName, createStrategies, STRATEGY_NAMES } from '../src/routing/registry.ts';
import type { RoutingStrategy } from '../src/routing/strategy.ts';
import { RoutingTable, type RoutingTableOptions } from '../src/routing/table.ts';
import { type Clock, realClock } from './clock.ts';

export type { BalancerMasterRoute } from '../machines/balancer.machine.ts';
export type { AffinityMove, AffinityStore } from '../src/routing/affinity.ts';
export { MemoryAffinityStore } from '../src/routing/affinity.ts';

export type ReleaseOutcome = 'sent' | 'failed' | 'moved';

export interface MasterLoad {
  phone: string;
  /** Share of recent assignments (decayed, see RoutingTableOptions.shareHalfLifeMs), 0..1. */
  share: number;
  inFlight: number;
  completed: number;
  failed: number;
  /** Mean latency of the sends released with a latency; null before the first. */
  avgLatencyMs: number | null;
  routable: boolean;
  priority: number;
  weight: number;
  region: string;
  ratePerMinute: number;
  /** Tokens in the bucket now (whole messages it may take at once). */
  tokens: number;
  /** Messages assigned since it was added. */
  assigned: number;
}

export interface LoadDistribution {
  strategy: string;
  strategies: string[];
  affinity: boolean;
  distribution: MasterLoad[];
  /** 0-100, see src/routing/quality.ts. */
  quality: number;
  /** Recipients moved to another master by the balancer since start (chats turned cold). */
  affinityMoves: number;
}

export interface Balancer {
  addMaster(master: BalancerMasterRoute, actor: AnyActorRef): void;
  removeMaster(phone: string): void;
  /**
   * Chooses a routable master within its rate limit for recipient `to` (E.164), or null when none can
   * take it now. Consumes a token, counts +1 in-flight, records affinity. A caller that then does not
   * hand the message to that master releases it with 'moved'. `avoid`: a master not to use this
   * time (a retry after a failed send there); if it is the recipient's sticky master the recipient
   * moves (reason 'avoided'), and null means no other master can take it now.
   */
  select(to: string, avoid?: string): string | null;
  /** Which master select(to) would choose now, without taking a token or recording anything. */
  peek(to: string): string | null;
  /** The message assigned by select() finished: 'sent' | 'failed', or 'moved' (taken away by a failover). */
  release(phone: string, outcome: ReleaseOutcome, latencyMs?: number): void;
  /**
   * The master's load as its owner counts it (unsent messages it holds): replaces the in-flight
   * figure select() and release() keep, so moves, restarts and reloads cannot make it drift.
   */
  setLoad(phone: string, unsent: number): void;
  /** A finished send's outcome and latency, for the figures and least-loaded (no in-flight change). */
  observe(phone: string, outcome: ReleaseOutcome, latencyMs?: number): void;
  /** The routable master `to` sticks to while it cannot take a message now (the recipient waits for it). */
  waitingFor(to: string): string | undefined;
  /** The master could take a message now (routable, below its in-flight limit, holding a token). */
  eligible(phone: string): boolean;
  /** Throws SwitchboardError SB_ERR_UNKNOWN_STRATEGY (400) listing the valid names. */
  setStrategy(name: string): void;
  getStrategy(): string;
  getAvailableStrategies(): string[];
  setAffinity(on: boolean): void;
  /** Throws SB_ERR_UNKNOWN_MASTER (404) or SB_ERR_VALIDATION (400). */
  updateRoutingPriorities(phone: string, priority: number): void;
  getLoadDistribution(): LoadDistribution;
  isRoutable(phone: string): boolean;
  /** Some master could take a message now (a cheap way for a dispatcher to stop scanning its queue). */
  hasCapacity(): boolean;
  stop(): void;
}

export interface BalancerOptions extends RoutingTableOptions {
  clock?: Clock;
  strategy?: string;
  /** Contact affinity, on by default. */
  affinity?: boolean;
  affinityStore?: AffinityStore;
  log?: Logger;
  /** Strategy geolocation uses within a region and as its fallback. Default round-robin. */
  geolocationFallback?: string;
  /**
   * When a recipient's sticky master is routable but cannot take a message now (rate limit or
   * in-flight limit): 'wait' (default) keeps the chat on its number and answers null, the message
   * waits at most until the next token (60 / ratePerMinute s); 'spill' routes it elsewhere now and
   * moves the affinity.
   */
  whenStickyLimited?: 'wait' | 'spill';
  /** Called for every recipient the balancer moves to another master. */
  onAffinityMoved?: (move: AffinityMove) => void;
  /** systemId of the machine actor. Default 'balancer'. */
  systemId?: string;
  /** XState inspection observer (the inspector's bridge); the balancer is a root actor of its own. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void) | undefined;
}

export type BalancerActor = Actor<ReturnType<typeof createBalancerLogic>>;

/** The balancer machine provided with a routing table: the table's mutations are its actions. */
export function createBalancerLogic(
  table: RoutingTable,
  clock: Clock,
  hooks: { useStrategy(name: string): void; useAffinity(on: boolean): void },
) {
  return balancerMachine.provide({
    actions: {
      tableAdd: (_, { master }) => {
        table.time[0] = clock.now();
        table.add(master);
      },
      tableRemove: (_, { phone }) => {
        table.remove(phone);
      },
      tableSetRoutable: (_, { phone, routable }) => {
        const i = table.indexOf(phone);
        if (i >= 0) table.setRoutable(i, routable);
      },
      tableSetPriority: (_, { phone, priority }) => {
        const i = table.indexOf(phone);
        if (i >= 0) table.setPriority(i, priority);
      },
      tableUseStrategy: (_, { strategy }) => hooks.useStrategy(strategy),
      tableUseAffinity: (_, { on }) => hooks.useAffinity(on),
    },
  });
}

interface SnapshotLike {
  status?: string;
  hasTag?: (tag: string) => boolean;
  context?: { lastLatencyMs?: unknown };
}

function routableSnapshot(snapshot: SnapshotLike): boolean {
  return snapshot.status === 'active' && typeof snapshot.hasTag === 'function' && snapshot.hasTag('routable');
}

export function createBalancer(options: BalancerOptions = {}): Balancer & { readonly actor: BalancerActor } {
  const clock = options.clock ?? realClock;
  const log = options.log?.child({ actor: 'balancer' });
  const table = new RoutingTable(options);
  const strategies = createStrategies({
    ...(options.geolocationFallback ? { geolocationFallback: options.geolocationFallback } : {}),
    countries: new CountryLookup(),
  });
  const initial = assertStrategyName(options.strategy ?? 'round-robin');
  const affinityStore = options.affinityStore ?? new MemoryAffinityStore();
  const spillWhenLimited = options.whenStickyLimited === 'spill';
  const subscriptions = new Map<string, Subscription>();
  let strategy: RoutingStrategy = strategies.get(initial)!;
  let affinity = options.affinity ?? true;
  let affinityMoves = 0;

  const logic = createBalancerLogic(table, clock, {
    useStrategy: (name) => {
      const next = strategies.get(assertStrategyName(name))!;
      if (next !== strategy)
        log?.info({ strategy: name, previous: strategy.name }, 'routing strategy changed');
      strategy = next;
    },
    useAffinity: (on) => {
      affinity = on;
    },
  });
  const actor = createActor(logic, {
    input: { strategies: STRATEGY_NAMES, strategy: initial, affinity },
    clock,
    systemId: options.systemId ?? 'balancer',
    inspect: options.inspect,
  });
  actor.start();

  function follow(phone: string, snapshot: SnapshotLike): void {
    const i = table.indexOf(phone);
    if (i < 0) return;
    const latency = snapshot.context?.lastLatencyMs;
    if (typeof latency === 'number') table.hintLatency(i, latency);
    const routable = routableSnapshot(snapshot);
    if (routable === (table.routable[i] === 1)) return;
    actor.send({ type: 'master.routability.changed', phone, routable });
    log?.debug({ master: phone, routable }, routable ? 'master routable' : 'master not routable');
  }

  function unroutable(phone: string): void {
    const i = table.indexOf(phone);
    if (i >= 0 && table.routable[i] === 1)
      actor.send({ type: 'master.routability.changed', phone, routable: false });
  }

  function moved(recipient: string, from: string, to: string, reason: AffinityMoveReason, at: number): void {
    affinityMoves++;
    log?.info(
      { recipient, from, master: to, reason },
      'recipient moved to another master: the chat turns cold',
    );
    options.onAffinityMoved?.({ recipient, from, to, reason, at });
  }

  function refilled(i: number): number {
    table.refill(i);
    return table.tokens[i]!;
  }

  function removeMaster(phone: string): void {
    subscriptions.get(phone)?.unsubscribe();
    subscriptions.delete(phone);
    const i = table.indexOf(phone);
    if (i < 0) return;
    actor.send({ type: 'master.removed', phone, wasRoutable: table.routable[i] === 1 });
  }

  return {
    actor,

    addMaster(master, masterActor) {
      removeMaster(master.phone);
      actor.send({ type: 'master.added', master: { ...master } });
      const phone = master.phone;
      subscriptions.set(
        phone,
        masterActor.subscribe({
          next: (snapshot) => follow(phone, snapshot as SnapshotLike),
          error: () => unroutable(phone),
          complete: () => unroutable(phone),
        }),
      );
      follow(phone, masterActor.getSnapshot() as SnapshotLike);
    },

    removeMaster,

    select(to, avoid) {
      const now = clock.now();
      table.time[0] = now;
      // A master to avoid (the one a retried send just failed on) is hidden for this decision only.
      const hidden = avoid === undefined ? -1 : table.indexOf(avoid);
      const hiddenWasRoutable = hidden >= 0 ? table.routable[hidden]! : 0;
      if (hidden >= 0) table.routable[hidden] = 0;
      let sticky: string | undefined;
      let reason: AffinityMoveReason = 'unroutable';
      let chosen = -1;
      let waits = false;
      if (affinity) {
        sticky = affinityStore.get(to);
        if (sticky !== undefined) {
          const s = table.indexOf(sticky);
          if (s < 0) reason = 'removed';
          else if (s === hidden && hiddenWasRoutable === 1) reason = 'avoided';
          else if (table.routable[s] === 1) {
            if (table.eligible(s)) chosen = s;
            else if (spillWhenLimited) reason = 'rate-limited';
            else waits = true;
          }
        }
      }
      if (chosen < 0 && !waits) chosen = strategy.pick(table, to);
      if (hidden >= 0) table.routable[hidden] = hiddenWasRoutable;
      if (chosen < 0) return null;
      table.commit(chosen);
      const phone = table.phones[chosen]!;
      if (affinity && sticky !== phone) {
        affinityStore.set(to, phone);
        if (sticky !== undefined) moved(to, sticky, phone, reason, now);
      }
      return phone;
    },

    peek(to) {
      table.time[0] = clock.now();
      if (affinity) {
        const sticky = affinityStore.get(to);
        const s = sticky === undefined ? -1 : table.indexOf(sticky);
        if (s >= 0 && table.routable[s] === 1) {
          if (table.eligible(s)) return sticky!;
          if (!spillWhenLimited) return null;
        }
      }
      const restore = table.checkpoint();
      const i = strategy.pick(table, to);
      restore();
      return i < 0 ? null : table.phones[i]!;
    },

    release(phone, outcome, latencyMs) {
      const i = table.indexOf(phone);
      if (i >= 0) table.release(i, outcome, latencyMs);
    },

    setLoad(phone, unsent) {
      const i = table.indexOf(phone);
      if (i >= 0) table.inFlight[i] = unsent;
    },

    observe(phone, outcome, latencyMs) {
      const i = table.indexOf(phone);
      if (i >= 0) table.observe(i, outcome, latencyMs);
    },

    waitingFor(to) {
      if (!affinity || spillWhenLimited) return undefined;
      const sticky = affinityStore.get(to);
      if (sticky === undefined) return undefined;
      const s = table.indexOf(sticky);
      if (s < 0 || table.routable[s] !== 1) return undefined;
      table.time[0] = clock.now();
      return table.eligible(s) ? undefined : sticky;
    },

    eligible(phone) {
      const i = table.indexOf(phone);
      if (i < 0) return false;
      table.time[0] = clock.now();
      return table.eligible(i);
    },

    setStrategy(name) {
      actor.send({ type: 'balancer.strategy.set', strategy: assertStrategyName(name) });
    },

    getStrategy: () => actor.getSnapshot().context.strategy,
    getAvailableStrategies: () => [...STRATEGY_NAMES],

    setAffinity(on) {
      actor.send({ type: 'balancer.affinity.set', on });
    },

    updateRoutingPriorities(phone, priority) {
      if (table.indexOf(phone) < 0)
        throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${phone} in the balancer`, 404);
      if (!Number.isInteger(priority) || priority < 0)
        throw new SwitchboardError(
          'SB_ERR_VALIDATION',
          `priority must be a non-negative integer, got ${priority}`,
          400,
        );
      actor.send({ type: 'master.priority.set', phone, priority });
    },

    getLoadDistribution() {
      table.time[0] = clock.now();
      let recentTotal = 0;
      for (let i = 0; i < table.size; i++) recentTotal += table.recentCount(i);
      const distribution: MasterLoad[] = [];
      for (let i = 0; i < table.size; i++) {
        const count = table.latencyCount[i]!;
        distribution.push({
          phone: table.phones[i]!,
          share: recentTotal > 0 ? round(table.recentCount(i) / recentTotal, 4) : 0,
          inFlight: table.inFlight[i]!,
          completed: table.completed[i]!,
          failed: table.failed[i]!,
          avgLatencyMs: count > 0 ? round(table.latencySum[i]! / count, 1) : null,
          routable: table.routable[i] === 1,
          priority: table.priority[i]!,
          weight: table.weight[i]!,
          region: table.regions[i]!,
          ratePerMinute: round(table.ratePerMs[i]! * 60_000, 3),
          tokens: Math.floor(refilled(i)),
          assigned: table.assigned[i]!,
        });
      }
      const { strategy: name, affinity: on } = actor.getSnapshot().context;
      return {
        strategy: name,
        strategies: [...STRATEGY_NAMES],
        affinity: on,
        distribution,
        quality: balanceQuality(table),
        affinityMoves,
      };
    },

    isRoutable(phone) {
      const i = table.indexOf(phone);
      return i >= 0 && table.routable[i] === 1;
    },

    hasCapacity() {
      table.time[0] = clock.now();
      for (let i = 0; i < table.size; i++) if (table.eligible(i)) return true;
      return false;
    },

    stop() {
      for (const sub of subscriptions.values()) sub.unsubscribe();
      subscriptions.clear();
      actor.stop();
    },
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
