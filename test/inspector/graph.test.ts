// The definition -> graph conversion the charts are drawn from: for every machine the inspector
// draws, the states with their nesting, and every transition with its event, guard and target.
import { describe, expect, it } from 'vitest';
import { type AnyStateMachine, type AnyStateNode, and, createMachine, not, setup, stateIn } from 'xstate';
import {
  type GraphState,
  type GraphTransition,
  type MachineGraph,
  machineGraph,
} from '../../inspector/graph.ts';
import { INSPECTED_MACHINES } from '../../inspector/machines.ts';
import { balancerMachine } from '../../machines/balancer.machine.ts';
import { failoverMachine } from '../../machines/failover.machine.ts';
import { masterMachine } from '../../machines/master.machine.ts';
import { supervisorMachine } from '../../machines/supervisor.machine.ts';

function states(graph: MachineGraph): Map<string, GraphState> {
  const out = new Map<string, GraphState>();
  const walk = (s: GraphState) => {
    out.set(s.id, s);
    for (const c of s.children) walk(c);
  };
  walk(graph.root);
  return out;
}

/** One line per transition, as a person would write it: `source --label [guard]--> targets`. */
function lines(graph: MachineGraph): string[] {
  return graph.transitions.map(
    (t) => `${t.source} --${t.label}${t.guard ? ` [${t.guard}]` : ''}--> ${t.targets.join(',') || '(stays)'}`,
  );
}

function children(graph: MachineGraph, id: string): string[] {
  return states(graph)
    .get(id)!
    .children.map((c) => c.key);
}

describe('machineGraph: every machine the inspector draws', () => {
  it.each(INSPECTED_MACHINES.map((m) => [m.id, m] as const))(
    '"%s": every state of the definition appears once, with its path, type, tags and initial child',
    (_id, machine: AnyStateMachine) => {
      const graph = machineGraph(machine);
      const byId = states(graph);
      const walk = (node: AnyStateNode) => {
        const s = byId.get(node.id);
        expect(s, node.id).toBeDefined();
        expect(s!.path).toEqual(node.path);
        expect(s!.type).toBe(node.type);
        expect(s!.tags).toEqual([...node.tags]);
        expect(s!.children.map((c) => c.id)).toEqual(
          Object.values(node.states).map((c) => (c as AnyStateNode).id),
        );
        expect(s!.initial).toBe(node.initial?.target[0]?.id ?? null);
        for (const c of Object.values(node.states)) walk(c as AnyStateNode);
      };
      walk(machine.root);
    },
  );

  it.each(INSPECTED_MACHINES.map((m) => [m.id, m] as const))(
    '"%s": every transition of the definition appears once, from and to states of the graph',
    (_id, machine: AnyStateMachine) => {
      const graph = machineGraph(machine);
      const ids = new Set(states(graph).keys());
      let expected = 0;
      const count = (node: AnyStateNode) => {
        for (const list of node.transitions.values()) expected += list.length;
        expected += node.always?.length ?? 0;
        for (const c of Object.values(node.states)) count(c as AnyStateNode);
      };
      count(machine.root);
      expect(graph.transitions).toHaveLength(expected);
      expect(new Set(graph.transitions.map((t) => t.id)).size).toBe(expected);
      for (const t of graph.transitions) {
        expect(ids.has(t.source), t.id).toBe(true);
        for (const target of t.targets) expect(ids.has(target), `${t.id} -> ${target}`).toBe(true);
      }
    },
  );

  it('is plain JSON (what /inspector/machines.json sends)', () => {
    for (const m of INSPECTED_MACHINES) {
      const graph = machineGraph(m);
      expect(JSON.parse(JSON.stringify(graph))).toEqual(graph);
    }
  });
});

describe('machineGraph: master', () => {
  const graph = machineGraph(masterMachine);

  it('has the four top-level states, "failed" and "recovering" with their sub-states, and starts in "recovering"', () => {
    expect(children(graph, 'master')).toEqual(['healthy', 'degraded', 'failed', 'recovering']);
    expect(children(graph, 'master.failed')).toEqual(['backoff', 'exhausted', 'needsRepair', 'drained']);
    expect(children(graph, 'master.recovering')).toEqual(['connecting', 'probation']);
    expect(graph.root.initial).toBe('master.recovering');
    expect(states(graph).get('master.recovering')!.initial).toBe('master.recovering.connecting');
    expect(states(graph).get('master.healthy')!.tags).toEqual(['routable']);
    expect(states(graph).get('master.healthy')!.invoke).toEqual(['healthProbe']);
    expect(states(graph).get('master.healthy')!.entry).toEqual(['markHealthy', 'emitHealthy']);
  });

  it('names events, guards and targets as the definition writes them', () => {
    expect(lines(graph)).toEqual(
      expect.arrayContaining([
        'master --transport.connection.closed [closeIsPermanent]--> master.failed.needsRepair',
        'master --master.drain--> master.failed.drained',
        'master.healthy --health.probe.succeeded [probeIsSlow]--> master.degraded',
        'master.healthy --health.probe.failed [failureReachesThreshold]--> master.failed.backoff',
        'master.healthy --health.probe.failed--> master.degraded',
        'master.healthy --send.failed [sendRunEjects]--> master.failed.backoff',
        'master.healthy --send.failed [restrictedReachesThreshold]--> master.failed.backoff',
        'master.healthy --send.succeeded--> (stays)',
        'master.degraded --health.probe.succeeded [successReachesThreshold]--> master.healthy',
        'master.failed --master.reset--> master.recovering',
        'master.recovering.connecting --done: reconnect [firstConnect]--> master.healthy',
        'master.recovering.connecting --done: reconnect--> master.recovering.probation',
        'master.recovering.connecting --error: reconnect--> master.failed.backoff',
        'master.recovering.connecting --after recoveryTimeout--> master.failed.backoff',
        'master.recovering.probation --health.probe.succeeded [successReachesThreshold]--> master.healthy',
      ]),
    );
  });

  it('gives "after" and "always" transitions their kind, and the actions they run', () => {
    const t = (source: string, label: string) =>
      graph.transitions.find((x) => x.source === source && x.label === label) as GraphTransition;
    expect(t('master.failed.backoff', 'after backoff')).toMatchObject({
      kind: 'after',
      targets: ['master.recovering'],
      event: 'xstate.after.backoff.master.failed.backoff',
    });
    expect(t('master.failed.backoff', 'always')).toMatchObject({
      kind: 'always',
      guard: 'attemptsExhausted',
      targets: ['master.failed.exhausted'],
    });
    expect(
      graph.transitions.find(
        (x) => x.source === 'master.recovering.probation' && x.targets[0] === 'master.healthy',
      )!.actions,
    ).toEqual(['countGoodProbe', 'emitRecovered']);
  });

  it('leaves out the timer bookkeeping XState adds for "after" (no raise/cancel in entry or exit)', () => {
    const backoff = states(graph).get('master.failed.backoff')!;
    expect(backoff.entry).toEqual([]);
    expect(backoff.exit).toEqual([]);
    expect(states(graph).get('master.recovering.connecting')!.entry).toEqual([
      'startAttempt',
      'emitRecovering',
    ]);
  });
});

describe('machineGraph: failover incident', () => {
  const graph = machineGraph(failoverMachine);

  it('runs selecting -> transferring -> activating -> recording and ends "completed" or "rolledBack" (final)', () => {
    expect(children(graph, 'failover')).toEqual([
      'selecting',
      'transferring',
      'waitingToRetry',
      'activating',
      'recording',
      'finished',
      'completed',
      'rolledBack',
    ]);
    expect(states(graph).get('failover.completed')!.type).toBe('final');
    expect(states(graph).get('failover.rolledBack')!.type).toBe('final');
    expect(states(graph).get('failover.selecting')!.invoke).toEqual(['selectBackup']);
  });

  it("labels invoked actors' results by the actor, not by XState's generated invoke id", () => {
    expect(lines(graph)).toEqual(
      expect.arrayContaining([
        'failover.selecting --done: selectBackup--> failover.transferring',
        'failover.selecting --error: selectBackup--> failover.recording',
        'failover.transferring --error: transfer [mayRetryTransfer]--> failover.waitingToRetry',
        'failover.waitingToRetry --after transferRetry--> failover.transferring',
        'failover.recording --done: audit--> failover.finished',
        'failover.finished --always--> failover.rolledBack',
      ]),
    );
  });

  it('shows a short inline guard by its body', () => {
    const guarded = graph.transitions.find((t) => t.source === 'failover.finished' && t.guard !== null)!;
    expect(guarded.guard).toMatch(/context\.outcome\s*===\s*'completed'/);
    expect(guarded.targets).toEqual(['failover.completed']);
  });
});

describe('machineGraph: supervisor', () => {
  const graph = machineGraph(supervisorMachine);

  it('is one state whose transitions only run actions, with their guards', () => {
    expect(graph.root.type).toBe('atomic');
    expect(graph.transitions.every((t) => t.targets.length === 0)).toBe(true);
    expect(lines(graph)).toEqual(
      expect.arrayContaining([
        'supervisor --master.failed [noIncidentYet]--> (stays)',
        'supervisor --failover.execute [knownMaster]--> (stays)',
        'supervisor --failover.retry [retryDue]--> (stays)',
        'supervisor --master.reset [knownMaster]--> (stays)',
        'supervisor --master.add--> (stays)',
        'supervisor --done: any child--> (stays)',
      ]),
    );
    expect(graph.transitions[0]!.actions).toContain('startIncident');
  });
});

describe('machineGraph: balancer', () => {
  const graph = machineGraph(balancerMachine);

  it('moves between "waiting" and "routing" (tagged "ready") on "always" guards, helpers spelled out', () => {
    expect(children(graph, 'balancer')).toEqual(['waiting', 'routing']);
    expect(states(graph).get('balancer.routing')!.tags).toEqual(['ready']);
    expect(lines(graph)).toEqual(
      expect.arrayContaining([
        'balancer.waiting --always [not(noneRoutable)]--> balancer.routing',
        'balancer.routing --always [noneRoutable]--> balancer.waiting',
        'balancer --balancer.strategy.set [knownStrategy]--> (stays)',
        'balancer --master.routability.changed--> (stays)',
      ]),
    );
    const strategy = graph.transitions.find((t) => t.guard === 'knownStrategy')!;
    expect(strategy.actions).toEqual(['emit', 'assign', 'tableUseStrategy']);
  });
});

describe('machineGraph: forms the project does not use yet', () => {
  it('spells out and/not/stateIn guards, numeric delays, parallel states and "done" of a state', () => {
    const machine = setup({ guards: { a: () => true, b: () => true } }).createMachine({
      id: 'm',
      type: 'parallel',
      states: {
        left: {
          initial: 'x',
          states: {
            x: {
              after: { 500: 'y' },
              on: {
                go: [
                  { guard: and(['a', not('b')]), target: 'y' },
                  { guard: stateIn({ right: 'on' }), target: 'y' },
                ],
              },
            },
            y: { type: 'final' },
          },
          onDone: '.x',
        },
        right: { initial: 'on', states: { on: {} } },
      },
    });
    const graph = machineGraph(machine);
    expect(graph.root.type).toBe('parallel');
    expect(lines(graph)).toEqual(
      expect.arrayContaining([
        'm.left.x --after 500 ms--> m.left.y',
        'm.left.x --go [and(a, not(b))]--> m.left.y',
        'm.left.x --go [stateIn({"right":"on"})]--> m.left.y',
        'm.left --done--> m.left.x',
      ]),
    );
  });

  it('draws any machine given to it: a new machine needs no code here', () => {
    const graph = machineGraph(
      createMachine({
        id: 'monitor',
        initial: 'ok',
        states: { ok: { on: { breach: 'alerting' } }, alerting: {} },
      }),
    );
    expect(lines(graph)).toEqual(['monitor.ok --breach--> monitor.alerting']);
  });
});
