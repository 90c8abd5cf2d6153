// What GET /inspector/stream sends: server-sent events whose `data` is one of these messages, and
// the chart list of GET /inspector/machines.json. Types only: the page (plain JS) imports them in JSDoc.
import type { MachineGraph } from './graph.ts';
import type { Clean } from './sanitize.ts';

export type { GraphState, GraphTransition, MachineGraph, StateType, TransitionKind } from './graph.ts';
export type { Clean } from './sanitize.ts';

/** A machine actor the page draws a chart for. */
export interface ActorInfo {
  /** XState's sessionId: unique in the process, the key every other message uses. */
  session: string;
  /** The actor's id in its parent (`+971501234567`, `fo-3`), or the root's id. */
  id: string;
  systemId: string | null;
  /** How people name it: the systemId, else `<parent's label>/<id>` (`supervisor/fo-3`). */
  label: string;
  /** The chart: a MachineGraph id. */
  machine: string;
  parent: string | null;
}

export interface SnapshotInfo {
  session: string;
  /** The snapshot's state value, as XState gives it (`'healthy'`, `{ failed: 'backoff' }`). */
  value: Clean;
  /** active | done | error | stopped */
  status: string;
  tags: string[];
  context: Clean;
}

/** One event received by a machine actor, as the event log shows it. */
export interface LogEntry {
  /** Increases by one per entry for the life of the process. */
  seq: number;
  /** Wall-clock ms. */
  at: number;
  /** Label of the sender, or null for an event from outside the actors (HTTP, a transport callback). */
  source: string | null;
  target: string;
  targetSession: string;
  type: string;
  event: Clean;
}

export type StreamMessage =
  /** First message on every connection: everything the page needs to draw the present. */
  | {
      type: 'hello';
      /** Changes when the service restarts: the page then forgets what it had. */
      boot: string;
      actors: ActorInfo[];
      snapshots: SnapshotInfo[];
      /** The recent event log (the ring buffer), oldest first. */
      events: LogEntry[];
      /** Entries the buffer has lost (it keeps the last `capacity`). */
      capacity: number;
    }
  /** What happened since the previous batch (sent every `flushMs` while something did). */
  | {
      type: 'batch';
      actors: ActorInfo[];
      /** Only the newest snapshot of each actor in the interval. */
      snapshots: SnapshotInfo[];
      events: LogEntry[];
      /** Events not recorded because more arrived in one interval than a batch holds. */
      dropped: number;
    };

export interface MachinesResponse {
  machines: MachineGraph[];
}
