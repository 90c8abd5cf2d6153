// The root of the system: spawns one master actor per number and owns failover. When a master
// fails it runs one failover incident for it (never two at once for the same master); manual
// commands start incidents or reset masters. Pure: the master and incident logic are provided.
import { type ActorRefFrom, assign, enqueueActions, setup } from 'xstate';
import { failoverMachine } from './failover.machine.ts';
import { type MasterEmitted, type MasterSettings, masterMachine } from './master.machine.ts';

export interface SupervisorMasterInput {
  phone: string;
  settings?: Partial<MasterSettings>;
}

export interface SupervisorInput {
  masters: SupervisorMasterInput[];
  /** Number of the first incident (incident ids stay unique across restarts). */
  firstIncident?: number;
}

export interface Incident {
  id: string;
  from: string;
  reason: string;
  manual: boolean;
}

export interface SupervisorContext {
  masters: Record<string, ActorRefFrom<typeof masterMachine>>;
  /** Open incidents by the master they move away from: at most one per master. */
  incidents: Record<string, Incident>;
  /** Masters whose current failure already had its incident; cleared when the master recovers. */
  failedOver: Record<string, true>;
  nextIncident: number;
}

export type SupervisorEvent =
  | MasterEmitted
  | { type: 'failover.execute'; from: string; to?: string; reason?: string }
  | { type: 'master.reset'; phone: string }
  | { type: 'master.add'; master: SupervisorMasterInput }
  | { type: 'master.remove'; phone: string };

export const supervisorMachine = setup({
  types: {
    input: {} as SupervisorInput,
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
  },
  actors: { master: masterMachine, failover: failoverMachine },
  guards: {
    noIncidentYet: ({ context, event }) =>
      event.type === 'master.failed' && !context.incidents[event.phone] && !context.failedOver[event.phone],
    knownMaster: ({ context, event }) =>
      (event.type === 'failover.execute' &&
        Boolean(context.masters[event.from]) &&
        !context.incidents[event.from]) ||
      (event.type === 'master.reset' && Boolean(context.masters[event.phone])),
  },
  actions: {
    startIncident: assign(({ context, event, spawn }) => {
      if (event.type !== 'master.failed' && event.type !== 'failover.execute') return {};
      const from = event.type === 'master.failed' ? event.phone : event.from;
      const manual = event.type === 'failover.execute';
      const reason = event.type === 'master.failed' ? event.reason : (event.reason ?? 'manual failover');
      const id = `fo-${context.nextIncident}`;
      spawn('failover', {
        id,
        input: {
          id,
          from,
          ...(event.type === 'failover.execute' && event.to ? { to: event.to } : {}),
          reason,
          manual,
        },
      });
      return {
        incidents: { ...context.incidents, [from]: { id, from, reason, manual } },
        failedOver: manual ? context.failedOver : { ...context.failedOver, [from]: true as const },
        nextIncident: context.nextIncident + 1,
      };
    }),
    endIncident: enqueueActions(({ context, event, enqueue }) => {
      const id = event.type.slice('xstate.done.actor.'.length);
      const incident = Object.values(context.incidents).find((i) => i.id === id);
      enqueue.stopChild(id);
      if (!incident) return;
      const { [incident.from]: _, ...rest } = context.incidents;
      enqueue.assign({ incidents: rest });
    }),
    forgetFailure: assign({
      failedOver: ({ context, event }) => {
        if (event.type !== 'master.healthy' && event.type !== 'master.recovered') return context.failedOver;
        if (!context.failedOver[event.phone]) return context.failedOver;
        const { [event.phone]: _, ...rest } = context.failedOver;
        return rest;
      },
    }),
    resetMaster: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.reset') return;
      const ref = context.masters[event.phone];
      if (ref) enqueue.sendTo(ref, { type: 'master.reset' });
    }),
    addMaster: assign(({ context, event, spawn }) => {
      if (event.type !== 'master.add' || context.masters[event.master.phone]) return {};
      const m = event.master;
      const ref = spawn('master', { id: m.phone, systemId: `master:${m.phone}`, input: m });
      return { masters: { ...context.masters, [m.phone]: ref } };
    }),
    removeMaster: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'master.remove' || !context.masters[event.phone]) return;
      enqueue.stopChild(event.phone);
      const { [event.phone]: _, ...rest } = context.masters;
      enqueue.assign({ masters: rest });
    }),
  },
}).createMachine({
  id: 'supervisor',
  // All masters spawned in one assign: N spawnChild actions would be quadratic (DESIGN.md section 8).
  context: ({ input, spawn }) => ({
    masters: Object.fromEntries(
      input.masters.map((m) => [
        m.phone,
        spawn('master', { id: m.phone, systemId: `master:${m.phone}`, input: m }),
      ]),
    ),
    incidents: {},
    failedOver: {},
    nextIncident: input.firstIncident ?? 1,
  }),
  on: {
    'master.failed': { guard: 'noIncidentYet', actions: 'startIncident' },
    'master.healthy': { actions: 'forgetFailure' },
    'master.recovered': { actions: 'forgetFailure' },
    'failover.execute': { guard: 'knownMaster', actions: 'startIncident' },
    'master.reset': { guard: 'knownMaster', actions: 'resetMaster' },
    'master.add': { actions: 'addMaster' },
    'master.remove': { actions: 'removeMaster' },
    // biome-ignore lint/suspicious/noExplicitAny: wildcard for the incidents' done events
    ['xstate.done.actor.*' as any]: { actions: 'endIncident' },
  },
});

export type SupervisorMachine = typeof supervisorMachine;
