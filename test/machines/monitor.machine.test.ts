// The monitor machine as a function (hand-made timelines, no clock, no IO): every alert opens once
// per condition, is acknowledged, and resolves when its condition clears; availability, detection
// and failover figures come out as computed by hand.

import { describe, expect, it } from 'vitest';
import { createActor, initialTransition, transition } from 'xstate';
import {
  type Alert,
  applyFact,
  availabilityAt,
  initialContext,
  type MasterObservation,
  type MonitorContext,
  type MonitorEmitted,
  type MonitorEvent,
  monitorMachine,
} from '../../machines/monitor.machine.ts';

const A = '+971501234567';
const B = '+971501234568';
const T0 = Date.UTC(2026, 0, 1);

const healthy = (phone: string, extra: Partial<MasterObservation> = {}): MasterObservation => ({
  phone,
  state: 'healthy',
  detail: null,
  routable: true,
  consecutiveFailures: 0,
  consecutiveSendFailures: 0,
  recoveryAttempts: 0,
  lastError: null,
  ...extra,
});

const observed = (at: number, o: MasterObservation): MonitorEvent => ({ type: 'master.observed', at, ...o });

const failed = (phone: string, detail: string, lastError: string, extra: Partial<MasterObservation> = {}) =>
  healthy(phone, { state: 'failed', detail, routable: false, lastError, ...extra });

/** Runs facts through the pure reducer, collecting what it told. */
function run(events: MonitorEvent[], context = initialContext({ startedAt: T0, masters: [A, B] })) {
  const told: MonitorEmitted[] = [];
  let c: MonitorContext = context;
  for (const e of events) {
    const r = applyFact(c, e);
    c = r.context;
    told.push(...r.emitted);
  }
  return { context: c, told };
}

const activeAlerts = (c: MonitorContext) => Object.values(c.alerts).filter((a) => a.state !== 'resolved');
const byKey = (c: MonitorContext, key: string): Alert[] =>
  Object.values(c.alerts).filter((a) => a.key === key);

describe('monitor machine: alerts', () => {
  const up = [observed(T0 + 10, healthy(A)), observed(T0 + 10, healthy(B))];

  it('opens one critical "master.failed" alert when a master enters "failed", however many facts follow, and resolves it when the master is routable again', () => {
    const { context, told } = run([
      ...up,
      observed(T0 + 1_000, failed(A, 'backoff', '3 consecutive probes failed (last: timeout)')),
      observed(T0 + 2_000, healthy(A, { state: 'recovering', detail: 'connecting', routable: false })),
      observed(
        T0 + 2_500,
        failed(A, 'backoff', 'reconnect attempt 1 failed: refused', { recoveryAttempts: 1 }),
      ),
    ]);
    const alerts = byKey(context, `master.failed:${A}`);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      id: 'al-1',
      severity: 'critical',
      state: 'open',
      master: A,
      createdAt: T0 + 1_000,
      message: `master ${A} failed: 3 consecutive probes failed (last: timeout)`,
    });
    expect(told.filter((e) => e.type === 'alert.opened')).toHaveLength(1);

    const after = run([observed(T0 + 9_000, healthy(A))], context);
    expect(byKey(after.context, `master.failed:${A}`)[0]).toMatchObject({
      state: 'resolved',
      resolvedAt: T0 + 9_000,
    });
    expect(after.told).toEqual([
      { type: 'alert.resolved', alert: byKey(after.context, `master.failed:${A}`)[0] },
    ]);
  });

  it('does not alert on a master drained by a manual failover ("failed.drained")', () => {
    const { context } = run([
      ...up,
      observed(T0 + 1_000, failed(A, 'drained', 'drained by manual failover')),
    ]);
    expect(byKey(context, `master.failed:${A}`)).toEqual([]);
  });

  it('acknowledges an open alert by id with "alert.acknowledge"; it stays active, so the condition does not open another', () => {
    const first = run([...up, observed(T0 + 1_000, failed(A, 'backoff', 'probes failed'))]);
    const id = byKey(first.context, `master.failed:${A}`)[0]!.id;
    const acked = run(
      [
        { type: 'alert.acknowledge', at: T0 + 2_000, id },
        observed(T0 + 3_000, failed(A, 'backoff', 'again', { recoveryAttempts: 2 })),
      ],
      first.context,
    );
    const alerts = byKey(acked.context, `master.failed:${A}`);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ id, state: 'acknowledged', acknowledgedAt: T0 + 2_000 });
    expect(acked.told.map((e) => e.type)).toEqual(['alert.acknowledged']);
    // acknowledging again, or an unknown id, changes nothing
    const again = run(
      [
        { type: 'alert.acknowledge', at: T0 + 4_000, id },
        { type: 'alert.acknowledge', at: T0 + 4_000, id: 'al-99' },
      ],
      acked.context,
    );
    expect(again.told).toEqual([]);
    expect(again.context).toBe(acked.context);
    // resolved, then failing again: a new alert with a new id
    const later = run(
      [observed(T0 + 5_000, healthy(A)), observed(T0 + 6_000, failed(A, 'backoff', 'down again'))],
      acked.context,
    );
    const all = byKey(later.context, `master.failed:${A}`);
    expect(all.map((a) => [a.id, a.state])).toEqual([
      [id, 'resolved'],
      ['al-2', 'open'],
    ]);
  });

  it('opens "fleet.unroutable" (critical) when the last routable master leaves rotation, never during the first connects', () => {
    const starting = run([
      observed(T0 + 5, healthy(A, { state: 'recovering', detail: 'connecting', routable: false })),
      observed(T0 + 5, healthy(B, { state: 'recovering', detail: 'connecting', routable: false })),
    ]);
    expect(byKey(starting.context, 'fleet.unroutable')).toEqual([]);
    const { context } = run(
      [
        ...up,
        observed(T0 + 1_000, failed(A, 'backoff', 'x')),
        observed(T0 + 1_500, healthy(B, { state: 'recovering', detail: 'connecting', routable: false })),
      ],
      starting.context,
    );
    expect(byKey(context, 'fleet.unroutable')).toEqual([
      expect.objectContaining({ severity: 'critical', state: 'open', createdAt: T0 + 1_500 }),
    ]);
    const back = run([observed(T0 + 2_000, healthy(B))], context);
    expect(byKey(back.context, 'fleet.unroutable')[0]).toMatchObject({
      state: 'resolved',
      resolvedAt: T0 + 2_000,
    });
  });

  it('opens "store.unavailable" (critical) on "store.unavailable" and resolves it on "store.recovered"', () => {
    const { context, told } = run([
      { type: 'store.unavailable', at: T0 + 100, reason: 'EIO: i/o error' },
      { type: 'store.unavailable', at: T0 + 200, reason: 'EIO: i/o error' },
      { type: 'store.recovered', at: T0 + 900 },
    ]);
    expect(told.map((e) => e.type)).toEqual(['alert.opened', 'alert.resolved']);
    expect(byKey(context, 'store.unavailable')[0]).toMatchObject({
      severity: 'critical',
      state: 'resolved',
      message: expect.stringContaining('EIO: i/o error'),
      createdAt: T0 + 100,
      resolvedAt: T0 + 900,
    });
  });

  it('opens "failover.rolledBack" (critical) on "failover.rolledBack", and a completed retry resolves it into the info "failover.completed"', () => {
    const { context } = run([
      ...up,
      observed(T0 + 1_000, failed(A, 'backoff', 'probes failed')),
      {
        type: 'failover.started',
        at: T0 + 1_000,
        id: 'fo-1',
        from: A,
        reason: 'probes failed',
        manual: false,
      },
      { type: 'failover.rolledBack', at: T0 + 1_200, id: 'fo-1', from: A, note: 'commit failed 3 times' },
    ]);
    expect(byKey(context, `failover.rolledBack:${A}`)).toEqual([
      expect.objectContaining({
        severity: 'critical',
        state: 'open',
        message: `failover fo-1 of ${A} rolled back: commit failed 3 times; it is retried while the master is down`,
      }),
    ]);
    const retried = run(
      [
        { type: 'failover.started', at: T0 + 2_200, id: 'fo-2', from: A, reason: 'retry', manual: false },
        {
          type: 'failover.completed',
          at: T0 + 2_260,
          id: 'fo-2',
          from: A,
          to: B,
          moved: { messages: 7, contacts: 3 },
        },
      ],
      context,
    );
    expect(byKey(retried.context, `failover.rolledBack:${A}`)[0]).toMatchObject({ state: 'resolved' });
    expect(byKey(retried.context, `failover.completed:${A}`)).toEqual([
      expect.objectContaining({
        severity: 'info',
        state: 'open',
        message: `failover fo-2 moved 7 messages and 3 contacts from ${A} to ${B}`,
      }),
    ]);
    // the info alert resolves when the failed master is back
    const back = run([observed(T0 + 9_000, healthy(A))], retried.context);
    expect(activeAlerts(back.context)).toEqual([]);
  });

  it('opens "queue.length" as a warning, escalates it to critical (open again if acknowledged), and resolves it under the warning threshold', () => {
    const start = initialContext({
      startedAt: T0,
      masters: [A],
      thresholds: { queueWarning: 10, queueCritical: 100 },
    });
    const warned = run(
      [
        { type: 'queue.measured', at: T0 + 1, length: 9 },
        { type: 'queue.measured', at: T0 + 2, length: 10 },
        { type: 'queue.measured', at: T0 + 3, length: 50 },
      ],
      start,
    );
    const [warning] = byKey(warned.context, 'queue.length');
    expect(warning).toMatchObject({ severity: 'warning', state: 'open', createdAt: T0 + 2 });
    const acked = run([{ type: 'alert.acknowledge', at: T0 + 4, id: warning!.id }], warned.context);
    const escalated = run([{ type: 'queue.measured', at: T0 + 5, length: 100 }], acked.context);
    expect(byKey(escalated.context, 'queue.length')).toEqual([
      expect.objectContaining({ id: warning!.id, severity: 'critical', state: 'open' }),
    ]);
    expect(byKey(escalated.context, 'queue.length')[0]!.acknowledgedAt).toBeUndefined();
    expect(escalated.told).toEqual([
      {
        type: 'alert.escalated',
        alert: expect.objectContaining({ severity: 'critical' }),
        previous: 'warning',
      },
    ]);
    // back under critical: it stays critical (no flapping); under warning it resolves
    const lower = run(
      [
        { type: 'queue.measured', at: T0 + 6, length: 50 },
        { type: 'queue.measured', at: T0 + 7, length: 3 },
      ],
      escalated.context,
    );
    expect(lower.told.map((e) => e.type)).toEqual(['alert.resolved']);
    expect(byKey(lower.context, 'queue.length')[0]).toMatchObject({
      severity: 'critical',
      state: 'resolved',
    });
  });

  it('opens "balance.imbalance" (warning) under the quality threshold, except under the priority strategy', () => {
    const { context } = run([{ type: 'balance.measured', at: T0 + 1, quality: 34, strategy: 'round-robin' }]);
    expect(byKey(context, 'balance.imbalance')).toEqual([
      expect.objectContaining({ severity: 'warning', state: 'open', message: expect.stringContaining('34') }),
    ]);
    const priority = run(
      [{ type: 'balance.measured', at: T0 + 2, quality: 34, strategy: 'priority' }],
      context,
    );
    expect(byKey(priority.context, 'balance.imbalance')[0]).toMatchObject({ state: 'resolved' });
    const better = run(
      [
        { type: 'balance.measured', at: T0 + 3, quality: 20, strategy: 'least-loaded' },
        { type: 'balance.measured', at: T0 + 4, quality: 50, strategy: 'least-loaded' },
      ],
      priority.context,
    );
    expect(byKey(better.context, 'balance.imbalance').map((a) => a.state)).toEqual(['resolved', 'resolved']);
  });

  it('opens "master.exhausted" (warning) in "failed.exhausted" and resolves it on the reset that leaves it', () => {
    const { context } = run([
      ...up,
      observed(T0 + 1_000, failed(A, 'exhausted', 'reconnect attempt 3 failed', { recoveryAttempts: 3 })),
    ]);
    expect(byKey(context, `master.exhausted:${A}`)).toEqual([
      expect.objectContaining({
        severity: 'warning',
        state: 'open',
        message: `master ${A} used all 3 recovery attempts: reset it (POST /api/masters/%2B971501234567/reset)`,
      }),
    ]);
    const reset = run(
      [observed(T0 + 2_000, healthy(A, { state: 'recovering', detail: 'connecting', routable: false }))],
      context,
    );
    expect(byKey(reset.context, `master.exhausted:${A}`)[0]).toMatchObject({ state: 'resolved' });
    // the master is still out of rotation: "master.failed" stays open
    expect(byKey(reset.context, `master.failed:${A}`)[0]).toMatchObject({ state: 'open' });
  });

  it('opens "master.needsRepair" (warning) in "failed.needsRepair"', () => {
    const { context } = run([
      ...up,
      observed(T0 + 1_000, failed(A, 'needsRepair', 'connection closed (401)')),
    ]);
    expect(byKey(context, `master.needsRepair:${A}`)).toEqual([
      expect.objectContaining({
        severity: 'warning',
        message: `master ${A} needs repair: connection closed (401)`,
      }),
    ]);
  });

  it('opens "master.ejected" (warning) when a run of unacknowledged sends took the master out, from its last error or from its failover\'s reason', () => {
    const why = '5 sends in a row failed or went unacknowledged (last: no acknowledgement)';
    const byError = run([...up, observed(T0 + 1_000, failed(A, 'backoff', why))]);
    expect(byKey(byError.context, `master.ejected:${A}`)).toEqual([
      expect.objectContaining({ severity: 'warning', message: `master ${A} is out of rotation: ${why}` }),
    ]);
    // the last error moved on (a reconnect attempt failed), the failover's reason still says why
    const byReason = run([
      ...up,
      observed(T0 + 1_000, failed(A, 'backoff', 'reconnect attempt 1 failed: refused')),
      { type: 'failover.started', at: T0 + 1_000, id: 'fo-1', from: A, reason: why, manual: false },
    ]);
    expect(byKey(byReason.context, `master.ejected:${A}`)).toHaveLength(1);
    // probes failing is not an ejection
    const probes = run([...up, observed(T0 + 1_000, failed(A, 'backoff', '3 consecutive probes failed'))]);
    expect(byKey(probes.context, `master.ejected:${A}`)).toEqual([]);
    const back = run([observed(T0 + 5_000, healthy(A))], byError.context);
    expect(byKey(back.context, `master.ejected:${A}`)[0]).toMatchObject({ state: 'resolved' });
  });

  it('keeps at most "keepResolved" resolved alerts, dropping the oldest with "alert.pruned"', () => {
    const start = initialContext({ startedAt: T0, masters: [A], thresholds: { keepResolved: 2 } });
    const events: MonitorEvent[] = [];
    for (let i = 0; i < 4; i++) {
      events.push({ type: 'store.unavailable', at: T0 + i * 10, reason: 'EIO' });
      events.push({ type: 'store.recovered', at: T0 + i * 10 + 5 });
    }
    const { context, told } = run(events, start);
    expect(Object.keys(context.alerts).sort()).toEqual(['al-3', 'al-4']);
    expect(told.filter((e) => e.type === 'alert.pruned')).toEqual([
      { type: 'alert.pruned', id: 'al-1' },
      { type: 'alert.pruned', id: 'al-2' },
    ]);
  });

  it('restores alerts: ids go on after the highest one, an open "master.failed" stays open through the restart, one whose condition is gone resolves on "monitor.evaluate"', () => {
    const restored: Alert[] = [
      {
        id: 'al-7',
        key: `master.failed:${A}`,
        severity: 'critical',
        state: 'open',
        message: 'm',
        master: A,
        createdAt: T0 - 50,
      },
      {
        id: 'al-8',
        key: 'store.unavailable',
        severity: 'critical',
        state: 'acknowledged',
        message: 's',
        createdAt: T0 - 40,
        acknowledgedAt: T0 - 30,
      },
      {
        id: 'al-3',
        key: 'queue.length',
        severity: 'warning',
        state: 'resolved',
        message: 'q',
        createdAt: T0 - 90,
        resolvedAt: T0 - 80,
      },
      {
        id: 'al-9',
        key: 'master.failed:+14155550000',
        severity: 'critical',
        state: 'open',
        message: 'gone',
        master: '+14155550000',
        createdAt: T0 - 20,
      },
    ];
    const start = initialContext({ startedAt: T0, masters: [A, B], alerts: restored, nextAlert: 5 });
    expect(start.nextAlert).toBe(10);
    const { context, told } = run(
      [
        { type: 'monitor.evaluate', at: T0 },
        observed(T0 + 5, healthy(A, { state: 'recovering', detail: 'connecting', routable: false })),
        { type: 'store.unavailable', at: T0 + 10, reason: 'EIO' },
      ],
      start,
    );
    expect(context.alerts['al-7']).toMatchObject({ state: 'open' });
    expect(context.alerts['al-8']).toMatchObject({ state: 'resolved', resolvedAt: T0 });
    expect(context.alerts['al-9']).toMatchObject({ state: 'resolved', resolvedAt: T0 });
    expect(
      told.filter((e) => e.type === 'alert.opened').map((e) => (e as { alert: Alert }).alert.id),
    ).toEqual(['al-10']);
  });
});

describe('monitor machine: figures on known timelines', () => {
  it('computes time-weighted availability per master and for the fleet (share of time with at least one routable master)', () => {
    // A: routable 0-40 s and 70-100 s; B: routable 20-50 s. Fleet: 0-50 s and 70-100 s.
    const { context } = run([
      observed(T0, healthy(A)),
      observed(T0 + 20_000, healthy(B)),
      observed(T0 + 40_000, failed(A, 'backoff', 'x')),
      observed(T0 + 50_000, failed(B, 'backoff', 'y')),
      observed(T0 + 70_000, healthy(A)),
    ]);
    const a = availabilityAt(context, T0 + 100_000);
    expect(a).toEqual({
      elapsedMs: 100_000,
      fleetUpMs: 80_000,
      masters: { [A]: 70_000, [B]: 30_000 },
    });
  });

  it('measures detection from the first sign of trouble to "failed", once per episode, and not before the master was ever routable', () => {
    const { context } = run([
      // B never connects: its failure is no detection
      observed(T0 + 500, failed(B, 'backoff', 'never connected')),
      observed(T0 + 1_000, healthy(A)),
      // a failed probe at 10 s, degraded at 10 s, failed at 12 s: detected in 2 s
      observed(T0 + 10_000, healthy(A, { state: 'degraded', consecutiveFailures: 1 })),
      observed(T0 + 11_000, healthy(A, { state: 'degraded', consecutiveFailures: 2 })),
      observed(T0 + 12_000, failed(A, 'backoff', 'probes', { consecutiveFailures: 3 })),
      observed(T0 + 13_000, healthy(A, { state: 'recovering', detail: 'connecting', routable: false })),
      observed(T0 + 14_000, failed(A, 'backoff', 'again', { consecutiveFailures: 3 })),
      observed(T0 + 20_000, healthy(A)),
      // a close at 30 s (out of rotation at once), the reconnect fails at 30.5 s
      observed(T0 + 30_000, healthy(A, { state: 'recovering', detail: 'connecting', routable: false })),
      observed(T0 + 30_500, failed(A, 'backoff', 'refused', { recoveryAttempts: 1 })),
      observed(T0 + 40_000, healthy(A)),
      // failed sends from 50 s, ejected at 53 s
      observed(T0 + 50_000, healthy(A, { consecutiveSendFailures: 1 })),
      observed(T0 + 53_000, failed(A, 'backoff', '5 sends in a row failed or went unacknowledged')),
    ]);
    expect(context.failovers.detectionsMs).toEqual([2_000, 500, 3_000]);
  });

  it('counts failovers by outcome and measures the durations of completed ones', () => {
    const { context } = run([
      { type: 'failover.started', at: T0 + 1_000, id: 'fo-1', from: A, reason: 'r', manual: false },
      {
        type: 'failover.completed',
        at: T0 + 1_050,
        id: 'fo-1',
        from: A,
        to: B,
        moved: { messages: 1, contacts: 1 },
      },
      { type: 'failover.started', at: T0 + 2_000, id: 'fo-2', from: B, reason: 'r', manual: false },
      { type: 'failover.rolledBack', at: T0 + 2_400, id: 'fo-2', from: B, note: 'commit failed' },
      { type: 'failover.started', at: T0 + 3_000, id: 'fo-3', from: B, reason: 'r', manual: false },
      {
        type: 'failover.completed',
        at: T0 + 3_300,
        id: 'fo-3',
        from: B,
        to: A,
        moved: { messages: 0, contacts: 0 },
      },
      { type: 'failover.started', at: T0 + 4_000, id: 'fo-4', from: A, reason: 'r', manual: false },
    ]);
    expect(context.failovers).toMatchObject({
      started: 4,
      completed: 2,
      rolledBack: 1,
      durationsMs: [50, 300],
      running: { 'fo-4': { from: A, at: T0 + 4_000 } },
    });
  });
});

describe('monitor machine: as an actor', () => {
  it('emits "alert.opened" and keeps the alert in its snapshot; initialTransition/transition agree with applyFact', () => {
    const actor = createActor(monitorMachine, { input: { startedAt: T0, masters: [A] } });
    const told: MonitorEmitted[] = [];
    actor.on('*', (e) => told.push(e as MonitorEmitted));
    actor.start();
    actor.send({ type: 'store.unavailable', at: T0 + 1, reason: 'EIO' });
    expect(told).toEqual([
      { type: 'alert.opened', alert: expect.objectContaining({ key: 'store.unavailable' }) },
    ]);
    expect(actor.getSnapshot().context.alerts['al-1']).toMatchObject({ state: 'open' });
    actor.stop();

    const [s0] = initialTransition(monitorMachine, { startedAt: T0, masters: [A] });
    const [s1, actions] = transition(monitorMachine, s0, {
      type: 'store.unavailable',
      at: T0 + 1,
      reason: 'EIO',
    });
    expect(s1.context.alerts['al-1']).toMatchObject({ key: 'store.unavailable', state: 'open' });
    // the emit is an action of the transition (the types do not list xstate.emit)
    const emits = (actions as { type: string; params?: { event?: { type: string } } }[]).filter(
      (a) => a.type === 'xstate.emit',
    );
    expect(emits.map((a) => a.params?.event?.type)).toEqual(['alert.opened']);
  });
});
