// The balancer's configuration and fleet membership as a pure XState v5 machine. The hot routing
// table (tokens, in-flight, latency) is not in context: actors/balancer.actor.ts keeps it in its
// closure and provides the `table*` actions that mirror these events into it.
import { assign, emit, not, setup } from 'xstate';

export interface BalancerMasterRoute {
  phone: string;
  /** Lower is preferred (priority strategy). */
  priority: number;
  /** ISO country code the number serves (geolocation strategy). */
  region: string;
  /** Relative share (round-robin, least-loaded). */
  weight: number;
  /** Token bucket refill rate. */
  ratePerMinute: number;
  /** A new number: its rate ramps up linearly over this many ms (0 or absent: no ramp). */
  warmUpMs?: number;
}

export interface BalancerInput {
  /** Every valid strategy name; the first is the default. */
  strategies: readonly string[];
  strategy?: string;
  affinity?: boolean;
}

export interface BalancerContext {
  strategies: readonly string[];
  strategy: string;
  affinity: boolean;
  masters: number;
  routable: number;
}

export type BalancerEvent =
  | { type: 'balancer.strategy.set'; strategy: string }
  | { type: 'balancer.affinity.set'; on: boolean }
  | { type: 'master.added'; master: BalancerMasterRoute }
  | { type: 'master.removed'; phone: string; wasRoutable: boolean }
  | { type: 'master.priority.set'; phone: string; priority: number }
  | { type: 'master.routability.changed'; phone: string; routable: boolean };

export type BalancerEmitted =
  | { type: 'balancer.strategy.changed'; strategy: string; previous: string }
  | { type: 'balancer.strategy.rejected'; strategy: string; valid: readonly string[] }
  | { type: 'balancer.fleet.unroutable'; masters: number }
  | { type: 'balancer.fleet.routable'; routable: number };

export const balancerMachine = setup({
  types: {
    input: {} as BalancerInput,
    context: {} as BalancerContext,
    events: {} as BalancerEvent,
    emitted: {} as BalancerEmitted,
  },
  actions: {
    // Provided by actors/balancer.actor.ts: they apply the event to the routing table.
    tableAdd: (_: unknown, _params: { master: BalancerMasterRoute }) => {},
    tableRemove: (_: unknown, _params: { phone: string }) => {},
    tableSetRoutable: (_: unknown, _params: { phone: string; routable: boolean }) => {},
    tableSetPriority: (_: unknown, _params: { phone: string; priority: number }) => {},
    tableUseStrategy: (_: unknown, _params: { strategy: string }) => {},
    tableUseAffinity: (_: unknown, _params: { on: boolean }) => {},
    emitUnroutable: emit(({ context }) => ({
      type: 'balancer.fleet.unroutable' as const,
      masters: context.masters,
    })),
    emitRoutable: emit(({ context }) => ({
      type: 'balancer.fleet.routable' as const,
      routable: context.routable,
    })),
  },
  guards: {
    knownStrategy: ({ context, event }) =>
      event.type === 'balancer.strategy.set' && context.strategies.includes(event.strategy),
    noneRoutable: ({ context }) => context.routable === 0,
  },
}).createMachine({
  id: 'balancer',
  context: ({ input }) => ({
    strategies: input.strategies,
    strategy: input.strategy ?? input.strategies[0] ?? 'round-robin',
    affinity: input.affinity ?? true,
    masters: 0,
    routable: 0,
  }),
  initial: 'waiting',
  on: {
    'balancer.strategy.set': [
      {
        guard: 'knownStrategy',
        actions: [
          emit(({ context, event }) => ({
            type: 'balancer.strategy.changed' as const,
            strategy: event.strategy,
            previous: context.strategy,
          })),
          assign({ strategy: ({ event }) => event.strategy }),
          { type: 'tableUseStrategy', params: ({ event }) => ({ strategy: event.strategy }) },
        ],
      },
      {
        actions: emit(({ context, event }) => ({
          type: 'balancer.strategy.rejected' as const,
          strategy: event.strategy,
          valid: context.strategies,
        })),
      },
    ],
    'balancer.affinity.set': {
      actions: [
        assign({ affinity: ({ event }) => event.on }),
        { type: 'tableUseAffinity', params: ({ event }) => ({ on: event.on }) },
      ],
    },
    'master.added': {
      actions: [
        assign({ masters: ({ context }) => context.masters + 1 }),
        { type: 'tableAdd', params: ({ event }) => ({ master: event.master }) },
      ],
    },
    'master.removed': {
      actions: [
        assign({
          masters: ({ context }) => Math.max(0, context.masters - 1),
          routable: ({ context, event }) => Math.max(0, context.routable - (event.wasRoutable ? 1 : 0)),
        }),
        { type: 'tableRemove', params: ({ event }) => ({ phone: event.phone }) },
      ],
    },
    'master.priority.set': {
      actions: {
        type: 'tableSetPriority',
        params: ({ event }) => ({ phone: event.phone, priority: event.priority }),
      },
    },
    'master.routability.changed': {
      actions: [
        assign({
          routable: ({ context, event }) => Math.max(0, context.routable + (event.routable ? 1 : -1)),
        }),
        {
          type: 'tableSetRoutable',
          params: ({ event }) => ({ phone: event.phone, routable: event.routable }),
        },
      ],
    },
  },
  states: {
    // No master is routable: select() answers null and messages wait in the outbox.
    waiting: {
      always: { guard: not('noneRoutable'), target: 'routing', actions: 'emitRoutable' },
    },
    routing: {
      tags: ['ready'],
      always: { guard: 'noneRoutable', target: 'waiting', actions: 'emitUnroutable' },
    },
  },
});

export type BalancerMachine = typeof balancerMachine;
