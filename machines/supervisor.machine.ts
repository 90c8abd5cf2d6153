// The root of the system: spawns one master actor per number and owns failover. When a master
// fails it runs one failover incident for it (never two at once for the same master); an incident
// that rolls back is retried with capped backoff while its master stays unroutable, so messages
// are never left on a dead master. A manual failover drains its source ("master.drain"): it takes
// nothing until "master.reset". Pure: the master and incident logic are provided.
import { type ActorRefFrom, assign, emit, enqueueActions, raise, setup } from 'xstate';
import { type FailoverOutput, failoverMachine } from './failover.machine.ts';
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
  /** Masters known not to be routable now (failed or reconnecting), from their facts. */
  down: Record<string, true>;
  /** Rolled-back incidents in a row per master: the backoff of the next retry. */
  retries: Record<string, number>;
  /** Masters that failed again while their incident still ran, with the reason: one more incident follows. */
  failedAgain: Record<string, string>;
  /** Masters that were routable again at some point while their incident ran. */
  upDuring: Record<string, true>;
  nextIncident: number;
}

/** Backoff before retrying a rolled-back failover: 1 s doubling, at most 30 s. */
export function failoverRetryDelay(retries: number): number {
  return Math.min(30_000, 1_000 * 2 ** Math.max(0, retries - 1));
}

export type SupervisorEvent =
  | MasterEmitted
  | { type: 'failover.execute'; from: string; to?: string; reason?: string }
  | { type: 'failover.retry'; phone: string; reason?: string }
  | { type: 'master.reset'; phone: string }
  | { type: 'master.add'; master: SupervisorMasterInput }
  | { type: 'master.remove'; phone: string };

/** Facts about incidents, for the monitor (alerts, failover counts and durations). */
export type SupervisorEmitted =
  | { type: 'failover.started'; id: string; from: string; reason: string; manual: boolean }
  | {
      type: 'failover.completed';
      id: string;
      from: string;
      to: string | null;
      moved: { messages: number; contacts: number };
    }
  | { type: 'failover.rolledBack'; id: string; from: string; note: string | null };

export const supervisorMachine = setup({
  types: {
    input: {} as SupervisorInput,
    context: {} as SupervisorContext,
    events: {} as SupervisorEvent,
    emitted: {} as SupervisorEmitted,
  },
  actors: { master: masterMachine, failover: failoverMachine },
  guards: {
    noIncidentYet: ({ context, event }) =>
      event.type === 'master.failed' && !context.incidents[event.phone] && !context.failedOver[event.phone],
    /** It fails again while its incident still runs, after taking traffic in between (it recovered). */
    failedAgainDuringIncident: ({ context, event }) =>
      event.type === 'master.failed' &&
      Boolean(context.incidents[event.phone]) &&
      Boolean(context.upDuring[event.phone]),
    /** Still down and no incident running: the rolled-back failover runs again. */
    // (`down` is only ever set from a master's own facts, so it names a master the supervisor has.)
    retryDue: ({ context, event }) =>
      event.type === 'failover.retry' &&
      Boolean(context.down[event.phone]) &&
      !context.incidents[event.phone],
    knownMaster: ({ context, event }) =>
      (event.type === 'failover.execute' &&
        Boolean(context.masters[event.from]) &&
        !context.incidents[event.from]) ||
      (event.type === 'master.reset' && Boolean(context.masters[event.phone])),
  },
  actions: {
    startIncident: assign(({ context, event, spawn }) => {
      if (
        event.type !== 'master.failed' &&
        event.type !== 'failover.execute' &&
        event.type !== 'failover.retry'
      )
        return {};
      const from =
        event.type === 'master.failed'
          ? event.phone
          : event.type === 'failover.retry'
            ? event.phone
            : event.from;
      const manual = event.type === 'failover.execute';
      const reason =
        event.type === 'master.failed'
          ? event.reason
          : event.type === 'failover.retry'
            ? (event.reason ??
              `retry after a rolled-back failover (attempt ${(context.retries[from] ?? 0) + 1})`)
            : (event.reason ?? 'manual failover');
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
    /** Runs after startIncident: the incident it just opened is in context. */
    emitStarted: emit(({ context, event }) => {
      const from =
        event.type === 'master.failed' || event.type === 'failover.retry'
          ? event.phone
          : event.type === 'failover.execute'
            ? event.from
            : '';
      const incident = context.incidents[from];
      return {
        type: 'failover.started' as const,
        id: incident?.id ?? '',
        from,
        reason: incident?.reason ?? '',
        manual: incident?.manual ?? false,
      };
    }),
    drainSource: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'failover.execute') return;
      const ref = context.masters[event.from];
      if (ref)
        enqueue.sendTo(ref, {
          type: 'master.drain',
          reason: `drained by manual failover${event.to ? ` to ${event.to}` : ''}`,
        });
    }),
    markDown: assign({
      down: ({ context, event }) => {
        if (!('phone' in event)) return context.down;
        const down =
          event.type === 'master.failed' ||
          event.type === 'master.recovering' ||
          event.type === 'master.exhausted';
        const up =
          event.type === 'master.healthy' ||
          event.type === 'master.degraded' ||
          event.type === 'master.recovered';
        if (down && !context.down[event.phone]) return { ...context.down, [event.phone]: true as const };
        if (up && context.down[event.phone]) {
          const { [event.phone]: _, ...rest } = context.down;
          return rest;
        }
        return context.down;
      },
    }),
    endIncident: enqueueActions(({ context, event, enqueue }) => {
      const id = event.type.slice('xstate.done.actor.'.length);
      const incident = Object.values(context.incidents).find((i) => i.id === id);
      enqueue.stopChild(id);
      if (!incident) return;
      const { [incident.from]: _, ...rest } = context.incidents;
      const output = (event as unknown as { output?: FailoverOutput }).output;
      if (output?.status === 'rolledBack')
        enqueue.emit({ type: 'failover.rolledBack', id, from: incident.from, note: output.note });
      else if (output)
        enqueue.emit({
          type: 'failover.completed',
          id,
          from: incident.from,
          to: output.backup,
          moved: output.moved,
        });
      const failedAgain = context.failedAgain[incident.from];
      const { [incident.from]: ____, ...upDuring } = context.upDuring;
      enqueue.assign({ upDuring });
      if (failedAgain) {
        // It failed again while this incident ran (it had recovered and taken new work meanwhile):
        // that failure gets its own incident now.
        const { [incident.from]: ___, ...others } = context.failedAgain;
        enqueue.assign({ failedAgain: others });
        enqueue(
          raise(
            { type: 'failover.retry', phone: incident.from, reason: failedAgain },
            { id: `failover.retry:${incident.from}` },
          ),
        );
      }
      if (output?.status === 'rolledBack') {
        const retries = (context.retries[incident.from] ?? 0) + 1;
        enqueue.assign({ incidents: rest, retries: { ...context.retries, [incident.from]: retries } });
        enqueue(
          raise(
            { type: 'failover.retry', phone: incident.from },
            { delay: failoverRetryDelay(retries), id: `failover.retry:${incident.from}` },
          ),
        );
      } else {
        const { [incident.from]: __, ...retries } = context.retries;
        enqueue.assign({ incidents: rest, retries });
      }
    }),
    noteUpDuringIncident: assign({
      upDuring: ({ context, event }) =>
        'phone' in event && context.incidents[event.phone]
          ? { ...context.upDuring, [event.phone]: true as const }
          : context.upDuring,
    }),
    rememberFailure: assign({
      failedAgain: ({ context, event }) =>
        event.type === 'master.failed'
          ? { ...context.failedAgain, [event.phone]: event.reason }
          : context.failedAgain,
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
  // All masters spawned in one assign: N spawnChild actions would be quadratic.
  context: ({ input, spawn }) => ({
    masters: Object.fromEntries(
      input.masters.map((m) => [
        m.phone,
        spawn('master', { id: m.phone, systemId: `master:${m.phone}`, input: m }),
      ]),
    ),
    incidents: {},
    failedOver: {},
    down: {},
    retries: {},
    failedAgain: {},
    upDuring: {},
    nextIncident: input.firstIncident ?? 1,
  }),
  on: {
    'master.failed': [
      { guard: 'noIncidentYet', actions: ['markDown', 'startIncident', 'emitStarted'] },
      { guard: 'failedAgainDuringIncident', actions: ['markDown', 'rememberFailure'] },
      { actions: 'markDown' },
    ],
    'master.healthy': { actions: ['markDown', 'forgetFailure', 'noteUpDuringIncident'] },
    'master.recovered': { actions: ['markDown', 'forgetFailure', 'noteUpDuringIncident'] },
    'master.degraded': { actions: ['markDown', 'noteUpDuringIncident'] },
    'master.recovering': { actions: 'markDown' },
    'master.exhausted': { actions: 'markDown' },
    'failover.execute': { guard: 'knownMaster', actions: ['startIncident', 'emitStarted', 'drainSource'] },
    'failover.retry': { guard: 'retryDue', actions: ['startIncident', 'emitStarted'] },
    'master.reset': { guard: 'knownMaster', actions: 'resetMaster' },
    'master.add': { actions: 'addMaster' },
    'master.remove': { actions: 'removeMaster' },
    // biome-ignore lint/suspicious/noExplicitAny: wildcard for the incidents' done events
    ['xstate.done.actor.*' as any]: { actions: 'endIncident' },
  },
});

export type SupervisorMachine = typeof supervisorMachine;
