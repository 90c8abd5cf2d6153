// The balancer machine as a pure function: configuration and fleet membership, no table, no actors.
import { describe, expect, it } from 'vitest';
import { initialTransition, type SnapshotFrom, transition } from 'xstate';
import { type BalancerEvent, balancerMachine } from '../../machines/balancer.machine.ts';

type Snap = SnapshotFrom<typeof balancerMachine>;
const STRATEGIES = ['round-robin', 'priority', 'least-loaded', 'geolocation'];
const master = (phone: string) =>
  ({
    type: 'master.added',
    master: { phone, priority: 1, region: 'AE', weight: 1, ratePerMinute: 60 },
  }) as const;
const routable = (phone: string, on = true) =>
  ({ type: 'master.routability.changed', phone, routable: on }) as const;

function start(): Snap {
  return initialTransition(balancerMachine, { strategies: STRATEGIES })[0];
}

/** Runs the events; returns the last snapshot and every action type and emitted event type on the way. */
function run(snapshot: Snap, ...events: BalancerEvent[]) {
  let s = snapshot;
  const actions: string[] = [];
  for (const e of events) {
    const [next, executed] = transition(balancerMachine, s, e);
    s = next;
    for (const a of executed) {
      const emitted = (a.params as { event?: { type: string } } | undefined)?.event;
      actions.push(emitted ? emitted.type : a.type);
    }
  }
  return { s, actions };
}

describe('balancer machine: transitions', () => {
  it('starts in "waiting" with the first strategy and affinity on', () => {
    const s = start();
    expect(s.value).toBe('waiting');
    expect(s.hasTag('ready')).toBe(false);
    expect(s.context).toMatchObject({ strategy: 'round-robin', affinity: true, masters: 0, routable: 0 });
  });

  it('takes strategy and affinity from its input', () => {
    const [s] = initialTransition(balancerMachine, {
      strategies: STRATEGIES,
      strategy: 'priority',
      affinity: false,
    });
    expect(s.context).toMatchObject({ strategy: 'priority', affinity: false });
  });

  it('goes to "routing" (tag "ready") on the first "master.routability.changed" to routable, emitting "balancer.fleet.routable"', () => {
    const { s, actions } = run(start(), master('+1'), routable('+1'));
    expect(s.value).toBe('routing');
    expect(s.hasTag('ready')).toBe(true);
    expect(s.context).toMatchObject({ masters: 1, routable: 1 });
    expect(actions).toEqual(['tableAdd', 'tableSetRoutable', 'balancer.fleet.routable']);
  });

  it('goes back to "waiting" when the last routable master stops being routable, emitting "balancer.fleet.unroutable"', () => {
    const { s, actions } = run(
      start(),
      master('+1'),
      master('+2'),
      routable('+1'),
      routable('+2'),
      routable('+1', false),
    );
    expect(s.value).toBe('routing');
    const after = run(s, routable('+2', false));
    expect(after.s.value).toBe('waiting');
    expect(after.actions).toEqual(['tableSetRoutable', 'balancer.fleet.unroutable']);
    expect(actions.filter((a) => a === 'balancer.fleet.routable')).toHaveLength(1);
  });

  it('"master.removed" of a routable master counts it out and may leave the fleet "waiting"', () => {
    const { s } = run(start(), master('+1'), routable('+1'), {
      type: 'master.removed',
      phone: '+1',
      wasRoutable: true,
    });
    expect(s.value).toBe('waiting');
    expect(s.context).toMatchObject({ masters: 0, routable: 0 });
  });

  it('"balancer.strategy.set" with a known name switches and emits "balancer.strategy.changed"', () => {
    const { s, actions } = run(start(), { type: 'balancer.strategy.set', strategy: 'least-loaded' });
    expect(s.context.strategy).toBe('least-loaded');
    expect(actions).toEqual(['balancer.strategy.changed', 'tableUseStrategy']);
  });

  it('"balancer.strategy.set" with an unknown name keeps the strategy and emits "balancer.strategy.rejected"', () => {
    const [s, executed] = transition(balancerMachine, start(), {
      type: 'balancer.strategy.set',
      strategy: 'fastest',
    });
    expect(s.context.strategy).toBe('round-robin');
    expect(executed.map((a) => a.params)).toEqual([
      { event: { type: 'balancer.strategy.rejected', strategy: 'fastest', valid: STRATEGIES } },
    ]);
  });

  it('"balancer.affinity.set" and "master.priority.set" reach the table through provided actions', () => {
    const { s, actions } = run(
      start(),
      { type: 'balancer.affinity.set', on: false },
      { type: 'master.priority.set', phone: '+1', priority: 3 },
    );
    expect(s.context.affinity).toBe(false);
    expect(actions).toEqual(['tableUseAffinity', 'tableSetPriority']);
  });
});
