// The bridge between XState's inspection events and the inspector pages: `bridge.inspect` is the
// observer given to createActor({ inspect }); connected pages get a `hello` with the present, then a
// sanitised `batch` of what changed every `flushMs`. With no page connected the observer only notes
// new root actors and returns, so inspection costs next to nothing (bench/inspect.bench.ts measures it).
import type { Writable } from 'node:stream';
import type { AnyActorRef, AnyStateMachine, InspectionEvent, Snapshot } from 'xstate';
import { type MachineGraph, machineGraph } from './graph.ts';
import { INSPECTED_MACHINES } from './machines.ts';
import type { ActorInfo, LogEntry, SnapshotInfo, StreamMessage } from './protocol.ts';
import { RingBuffer } from './ring-buffer.ts';
import { Sanitizer } from './sanitize.ts';

export interface InspectionBridgeOptions {
  /** Event log entries kept for pages that connect or reconnect (default 2,000). */
  capacity?: number;
  /** How often changes are sent to the pages (default 100 ms). */
  flushMs?: number;
  /** Events recorded per flush interval at most; the rest are counted as dropped (default 5,000). */
  maxBatch?: number;
  /** Actors that finished (an incident that completed) still shown to pages that connect later. */
  keepFinished?: number;
  /** A comment line to every page this often, so a dead connection is noticed (default 15 s). */
  heartbeatMs?: number;
  machines?: readonly AnyStateMachine[];
  /** Numbers that are the fleet's own (shown as they are); every other number is masked. */
  isFleetNumber?: (phone: string) => boolean;
}

/** The parts of an XState Actor the bridge reads. `_parent` is internal to XState but stable in v5
 * (@statelyai/inspect reads it too); the public ActorRef type has no way to name an actor's parent. */
interface ActorShape {
  sessionId: string;
  id: string;
  systemId?: string | undefined;
  logic?: { id?: unknown };
  _parent?: ActorShape | undefined;
  getSnapshot(): unknown;
}

interface MachineSnapshotShape {
  status: string;
  value?: unknown;
  context?: unknown;
  tags?: Set<string>;
  children?: Record<string, AnyActorRef | undefined>;
}

interface PendingEvent {
  at: number;
  source: ActorShape | undefined;
  target: ActorShape;
  event: { type: string };
}

interface Client {
  stream: Writable;
  /** Waiting for 'drain': batches are skipped meanwhile. */
  stalled: boolean;
  /** A batch was skipped while stalled: the drain is followed by a fresh hello. */
  missed: boolean;
}

export class InspectionBridge {
  readonly boot = `${process.pid}-${Date.now().toString(36)}`;
  readonly sanitizer: Sanitizer;
  readonly graphs: readonly MachineGraph[];
  readonly #machineIds: Set<string>;
  readonly #ring: RingBuffer<LogEntry>;
  readonly #flushMs: number;
  readonly #maxBatch: number;
  readonly #keepFinished: number;
  readonly #heartbeatMs: number;
  readonly #roots = new Set<ActorShape>();
  readonly #clients = new Set<Client>();
  readonly #labels = new WeakMap<object, string>();
  #pendingActors: ActorShape[] = [];
  #pendingSnapshots = new Map<ActorShape, Snapshot<unknown>>();
  #pendingEvents: PendingEvent[] = [];
  #dropped = 0;
  #finished: { actor: ActorInfo; snapshot: SnapshotInfo }[] = [];
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: InspectionBridgeOptions = {}) {
    const machines = options.machines ?? INSPECTED_MACHINES;
    this.graphs = machines.map(machineGraph);
    this.#machineIds = new Set(machines.map((m) => m.id));
    this.#ring = new RingBuffer(options.capacity ?? 2_000);
    this.#flushMs = options.flushMs ?? 100;
    this.#maxBatch = options.maxBatch ?? 5_000;
    this.#keepFinished = options.keepFinished ?? 10;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.sanitizer = new Sanitizer({
      ...(options.isFleetNumber ? { isFleetNumber: options.isFleetNumber } : {}),
      actorLabel: (ref) => this.#label(ref as unknown as ActorShape),
    });
  }

  /** Pages connected now. */
  get clients(): number {
    return this.#clients.size;
  }

  /** The observer for createActor(logic, { inspect: bridge.inspect }). */
  readonly inspect = (ev: InspectionEvent): void => {
    if (this.#clients.size === 0) {
      // The only thing kept without a page: the roots, to find every actor when one connects.
      if (ev.type === '@xstate.actor' && ev.rootId === ev.actorRef.sessionId) {
        this.#roots.add(ev.actorRef as unknown as ActorShape);
      }
      return;
    }
    const ref = ev.actorRef as unknown as ActorShape;
    switch (ev.type) {
      case '@xstate.actor':
        if (ev.rootId === ref.sessionId) this.#roots.add(ref);
        if (this.#isMachine(ref)) this.#pendingActors.push(ref);
        break;
      case '@xstate.snapshot':
        if (this.#isMachine(ref)) this.#pendingSnapshots.set(ref, ev.snapshot);
        break;
      case '@xstate.event':
        if (!this.#isMachine(ref)) return;
        if (this.#pendingEvents.length >= this.#maxBatch) {
          this.#dropped++;
          return;
        }
        this.#pendingEvents.push({
          at: Date.now(),
          source: ev.sourceRef as unknown as ActorShape | undefined,
          target: ref,
          event: ev.event,
        });
        break;
      default:
        return; // microsteps and actions: the charts need only the resulting snapshot
    }
    this.#timer ??= setTimeout(() => this.flush(), this.#flushMs).unref();
  };

  /**
   * Streams to `stream` (server-sent events): a hello at once, then batches. Returns the function
   * that disconnects it; the stream is also dropped when it closes.
   */
  connect(stream: Writable): () => void {
    if (this.#closed) {
      stream.end();
      return () => {};
    }
    const client: Client = { stream, stalled: false, missed: false };
    this.#clients.add(client);
    const disconnect = () => {
      this.#clients.delete(client);
      if (this.#clients.size === 0) this.#idle();
    };
    stream.once('close', disconnect);
    stream.once('error', disconnect);
    this.#send(client, `retry: 2000\n${this.#frame(this.hello())}`);
    this.#heartbeat ??= setInterval(() => {
      for (const c of this.#clients) if (!c.stalled) this.#send(c, ': keep-alive\n\n');
    }, this.#heartbeatMs).unref();
    return disconnect;
  }

  /** Everything a page needs to draw the present: live machine actors, their snapshots, recent events. */
  hello(): Extract<StreamMessage, { type: 'hello' }> {
    const actors: ActorInfo[] = [];
    const snapshots: SnapshotInfo[] = [];
    const seen = new Set<string>();
    const visit = (ref: ActorShape) => {
      if (seen.has(ref.sessionId)) return;
      seen.add(ref.sessionId);
      const snapshot = ref.getSnapshot() as MachineSnapshotShape;
      if (this.#isMachine(ref)) {
        actors.push(this.#info(ref));
        snapshots.push(this.#snapshot(ref, snapshot));
      }
      for (const child of Object.values(snapshot.children ?? {})) {
        if (child) visit(child as unknown as ActorShape);
      }
    };
    for (const root of this.#roots) {
      if ((root.getSnapshot() as MachineSnapshotShape).status === 'stopped') this.#roots.delete(root);
      else visit(root);
    }
    for (const f of this.#finished) {
      if (seen.has(f.actor.session)) continue;
      actors.push(f.actor);
      snapshots.push(f.snapshot);
    }
    return {
      type: 'hello',
      boot: this.boot,
      actors,
      snapshots,
      events: this.#ring.toArray(),
      capacity: this.#ring.capacity,
    };
  }

  /** Sends what changed since the last flush to every page (also runs by itself every flushMs). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const actors = this.#pendingActors.map((ref) => this.#info(ref));
    const snapshots: SnapshotInfo[] = [];
    for (const [ref, snapshot] of this.#pendingSnapshots) {
      const info = this.#snapshot(ref, snapshot as MachineSnapshotShape);
      snapshots.push(info);
      if (info.status === 'done' || info.status === 'error') this.#finish(ref, info);
    }
    const events: LogEntry[] = this.#pendingEvents.map((p) => this.#entry(p));
    const dropped = this.#dropped;
    this.#pendingActors = [];
    this.#pendingSnapshots = new Map();
    this.#pendingEvents = [];
    this.#dropped = 0;
    for (const e of events) this.#ring.push(e);
    if (actors.length + snapshots.length + events.length + dropped === 0) return;
    const frame = this.#frame({ type: 'batch', actors, snapshots, events, dropped });
    for (const client of this.#clients) {
      if (client.stalled) client.missed = true;
      else this.#send(client, frame);
    }
  }

  /** Ends every page's stream (the server is closing). */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    for (const client of this.#clients) client.stream.end();
    this.#clients.clear();
    this.#idle();
  }

  #idle(): void {
    // Nothing is recorded without a page: what is pending would only be stale at the next hello.
    this.#pendingActors = [];
    this.#pendingSnapshots = new Map();
    this.#pendingEvents = [];
    this.#dropped = 0;
    if (this.#clients.size === 0) {
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }

  #send(client: Client, chunk: string): void {
    if (client.stream.destroyed || client.stream.writableEnded) return;
    if (client.stream.write(chunk)) return;
    // A page that cannot keep up gets nothing more until its buffer drains, then starts over from a
    // fresh hello: memory per page stays bounded and the page never shows a state with a gap in it.
    client.stalled = true;
    client.stream.once('drain', () => {
      client.stalled = false;
      if (!client.missed || !this.#clients.has(client)) return;
      client.missed = false;
      this.#send(client, this.#frame(this.hello()));
    });
  }

  #frame(message: StreamMessage): string {
    return `id: ${this.#seq}\ndata: ${JSON.stringify(message)}\n\n`;
  }

  #isMachine(ref: ActorShape): boolean {
    const id = ref.logic?.id;
    return typeof id === 'string' && this.#machineIds.has(id);
  }

  #label(ref: ActorShape): string {
    let label = this.#labels.get(ref);
    if (label === undefined) {
      label = ref.systemId ?? (ref._parent ? `${this.#label(ref._parent)}/${ref.id}` : ref.id);
      label = this.sanitizer.text(label);
      this.#labels.set(ref, label);
    }
    return label;
  }

  #info(ref: ActorShape): ActorInfo {
    return {
      session: ref.sessionId,
      id: this.sanitizer.text(ref.id),
      systemId: ref.systemId === undefined ? null : this.sanitizer.text(ref.systemId),
      label: this.#label(ref),
      machine: String(ref.logic?.id),
      parent: ref._parent?.sessionId ?? null,
    };
  }

  #snapshot(ref: ActorShape, snapshot: MachineSnapshotShape): SnapshotInfo {
    return {
      session: ref.sessionId,
      value: this.sanitizer.value(snapshot.value) ?? null,
      status: snapshot.status,
      tags: snapshot.tags ? [...snapshot.tags] : [],
      context: this.sanitizer.value(snapshot.context) ?? null,
    };
  }

  #entry(p: PendingEvent): LogEntry {
    return {
      seq: ++this.#seq,
      at: p.at,
      source: p.source ? this.#label(p.source) : null,
      target: this.#label(p.target),
      targetSession: p.target.sessionId,
      type: this.sanitizer.text(p.event.type),
      event: this.sanitizer.event(p.event),
    };
  }

  #finish(ref: ActorShape, snapshot: SnapshotInfo): void {
    this.#finished = this.#finished.filter((f) => f.actor.session !== ref.sessionId);
    this.#finished.push({ actor: this.#info(ref), snapshot });
    if (this.#finished.length > this.#keepFinished) this.#finished.shift();
  }
}
