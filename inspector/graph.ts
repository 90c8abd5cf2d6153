// Turns a machine's own definition (its StateNode tree) into the plain graph the inspector page lays
// out: states with their nesting, tags and invoked actors, and every transition with its event, guard
// and actions. Built from the definition, so a chart can never disagree with the running machine.
import type { AnyStateMachine, AnyStateNode } from 'xstate';

export type StateType = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';
export type TransitionKind = 'event' | 'always' | 'after' | 'done' | 'error';

export interface GraphState {
  /** The state node's id (`master.failed.backoff`); transitions refer to states by it. */
  id: string;
  key: string;
  /** Keys from the root, as in a snapshot's value: `['failed', 'backoff']`; `[]` for the root. */
  path: string[];
  type: StateType;
  /** Id of the initial child of a compound state. */
  initial: string | null;
  tags: string[];
  entry: string[];
  exit: string[];
  /** The `src` of each actor the state invokes. */
  invoke: string[];
  description: string | null;
  children: GraphState[];
}

export interface GraphTransition {
  /** Unique in the graph: `<source>#<event>#<n>`. */
  id: string;
  source: string;
  /** Target state ids; empty for a transition that only runs actions (drawn inside its state). */
  targets: string[];
  /** The event type as the machine sees it (`xstate.after.backoff.master.failed.backoff`). */
  event: string;
  /** The event as a person reads it (`after backoff`, `done: reconnect`, `health.probe.failed`). */
  label: string;
  kind: TransitionKind;
  guard: string | null;
  actions: string[];
  reenter: boolean;
}

export interface MachineGraph {
  /** The machine's id (`master`); actors are matched to their chart by it. */
  id: string;
  root: GraphState;
  transitions: GraphTransition[];
}

/** The graph of a machine, from its definition. */
export function machineGraph(machine: AnyStateMachine): MachineGraph {
  const transitions: GraphTransition[] = [];
  const root = stateOf(machine.root, transitions);
  return { id: machine.id, root, transitions };
}

function stateOf(node: AnyStateNode, transitions: GraphTransition[]): GraphState {
  const invokes = new Map<string, string>();
  for (const inv of node.invoke) invokes.set(inv.id, srcName(inv.src));
  let n = 0;
  for (const [event, list] of node.transitions) {
    for (const t of list) {
      transitions.push(transitionOf(node, event, t, invokes, n++));
    }
  }
  for (const t of node.always ?? []) transitions.push(transitionOf(node, '', t, invokes, n++));
  const description = (node.description as string | undefined) ?? null;
  return {
    id: node.id,
    key: node.key,
    path: [...node.path],
    type: node.type,
    initial: node.initial?.target[0]?.id ?? null,
    tags: [...node.tags],
    entry: actionNames(node.entry),
    exit: actionNames(node.exit),
    invoke: [...invokes.values()],
    description,
    children: Object.values(node.states as Record<string, AnyStateNode>).map((child) =>
      stateOf(child, transitions),
    ),
  };
}

interface TransitionLike {
  target?: readonly AnyStateNode[] | undefined;
  guard?: unknown;
  actions: readonly unknown[];
  reenter?: boolean;
}

function transitionOf(
  node: AnyStateNode,
  event: string,
  t: TransitionLike,
  invokes: Map<string, string>,
  n: number,
): GraphTransition {
  const { label, kind } = describeEvent(event, node.id, invokes);
  return {
    id: `${node.id}#${event || 'always'}#${n}`,
    source: node.id,
    targets: (t.target ?? []).map((s) => s.id),
    event,
    label,
    kind,
    guard: guardName(t.guard),
    actions: actionNames(t.actions),
    reenter: t.reenter ?? false,
  };
}

function describeEvent(
  event: string,
  stateId: string,
  invokes: Map<string, string>,
): { label: string; kind: TransitionKind } {
  if (event === '') return { label: 'always', kind: 'always' };
  if (event.startsWith('xstate.after.')) {
    // `xstate.after.<delay>.<state id>`: the delay is a named delay or a number of ms.
    const delay = event.slice('xstate.after.'.length, -(stateId.length + 1));
    return { label: `after ${/^\d+$/.test(delay) ? `${delay} ms` : delay}`, kind: 'after' };
  }
  for (const [prefix, kind] of [
    ['xstate.done.actor.', 'done'],
    ['xstate.error.actor.', 'error'],
  ] as const) {
    if (event.startsWith(prefix)) {
      const id = event.slice(prefix.length);
      const who = id === '*' ? 'any child' : (invokes.get(id) ?? id);
      return { label: `${kind}: ${who}`, kind };
    }
  }
  if (event.startsWith('xstate.done.state.')) return { label: 'done', kind: 'done' };
  if (event === '*') return { label: 'any event', kind: 'event' };
  return { label: event, kind: 'event' };
}

function srcName(src: unknown): string {
  if (typeof src === 'string') return src;
  const id = (src as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : 'inline';
}

/** A guard as written: its name, a helper spelled out (`and(a, b)`, `not(a)`), or a short inline body. */
export function guardName(guard: unknown): string | null {
  if (guard === undefined || guard === null) return null;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'object') {
    const type = (guard as { type?: unknown }).type;
    return typeof type === 'string' ? type : 'guard';
  }
  if (typeof guard === 'function') {
    const helper = guard as { check?: { name: string }; guards?: unknown[]; stateValue?: unknown };
    if (helper.check && Array.isArray(helper.guards)) {
      const op = helper.check.name.replace(/^check/, '').toLowerCase() || 'guard';
      return `${op}(${helper.guards.map((g) => guardName(g) ?? '?').join(', ')})`;
    }
    if (helper.check && helper.stateValue !== undefined)
      return `stateIn(${JSON.stringify(helper.stateValue)})`;
    return inlineBody(guard as (...args: never[]) => unknown);
  }
  return 'guard';
}

/** `({ context }) => context.outcome === 'completed'` reads better than "inline" when it is short. */
function inlineBody(fn: (...args: never[]) => unknown): string {
  const source = fn.toString();
  const arrow = source.indexOf('=>');
  if (arrow < 0) return fn.name && fn.name !== 'guard' ? fn.name : 'inline guard';
  const body = source
    .slice(arrow + 2)
    .trim()
    .replace(/\s+/g, ' ');
  return body.startsWith('{') || body.length > 48 ? 'inline guard' : body.replace(/"/g, "'");
}

/** Action names as written; XState's own timer bookkeeping for `after` is left out. */
export function actionNames(actions: readonly unknown[]): string[] {
  const names: string[] = [];
  for (const action of actions) {
    if (typeof action === 'string') {
      names.push(action);
      continue;
    }
    if (action === null || (typeof action !== 'object' && typeof action !== 'function')) continue;
    const a = action as { type?: unknown; event?: { type?: unknown }; sendId?: unknown; name?: string };
    const type = typeof a.type === 'string' ? a.type : undefined;
    const timer =
      (type === 'xstate.raise' && String(a.event?.type ?? '').startsWith('xstate.after.')) ||
      (type === 'xstate.cancel' && String(a.sendId ?? '').startsWith('xstate.after.'));
    if (timer) continue;
    if (type) names.push(type.startsWith('xstate.') ? type.slice('xstate.'.length) : type);
    else names.push(a.name || 'inline');
  }
  return names;
}
