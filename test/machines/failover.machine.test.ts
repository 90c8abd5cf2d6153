// The failover incident and the supervisor as actors with provided fakes: retries, rollback,
// no backup, one incident per failed master, audit of every incident.
import { describe, expect, it } from 'vitest';
import { createActor, fromPromise, waitFor } from 'xstate';
import {
  type AuditInput,
  failoverMachine,
  type Moved,
  type SelectBackupInput,
  type TransferInput,
} from '../../machines/failover.machine.ts';
import { supervisorMachine } from '../../machines/supervisor.machine.ts';
import { advance, simClock } from '../support/clock.ts';

function incident(fakes: {
  selectBackup?: () => Promise<string | null>;
  transfer?: (to: string | null) => Promise<Moved>;
  activate?: () => Promise<void>;
}) {
  const audits: AuditInput[] = [];
  const transfers: (string | null)[] = [];
  const logic = failoverMachine.provide({
    actors: {
      selectBackup: fromPromise(fakes.selectBackup ?? (async () => '+2')),
      transfer: fromPromise<Moved, TransferInput>(async ({ input }) => {
        transfers.push(input.to);
        return fakes.transfer ? fakes.transfer(input.to) : { messages: 3, contacts: 1 };
      }),
      activate: fromPromise(fakes.activate ?? (async () => undefined)),
      audit: fromPromise<void, AuditInput>(async ({ input }) => {
        audits.push(input);
      }),
    },
  });
  const clock = simClock();
  const actor = createActor(logic, {
    clock,
    input: { id: 'fo-1', from: '+1', reason: 'probes failed', manual: false },
  }).start();
  return { actor, audits, transfers, clock };
}

describe('failover incident', () => {
  it('goes selecting -> transferring -> activating -> completed and audits the moves', async () => {
    const { actor, audits } = incident({});
    await waitFor(actor, (s) => s.status === 'done');
    expect(actor.getSnapshot().value).toBe('completed');
    expect(actor.getSnapshot().output).toMatchObject({
      status: 'completed',
      backup: '+2',
      moved: { messages: 3, contacts: 1 },
    });
    expect(audits).toEqual([expect.objectContaining({ id: 'fo-1', status: 'completed', backup: '+2' })]);
  });

  it('with no routable backup, returns the messages to the queue, completes, and says why', async () => {
    const { actor, audits, transfers } = incident({ selectBackup: async () => null });
    await waitFor(actor, (s) => s.status === 'done');
    expect(transfers).toEqual([null]);
    expect(audits[0]).toMatchObject({
      status: 'completed',
      backup: null,
      note: 'no routable backup: the messages wait in the queue',
    });
  });

  it('retries a failed commit and completes when a later try succeeds', async () => {
    let calls = 0;
    const { actor, clock, audits } = incident({
      transfer: async () => {
        calls++;
        if (calls < 3) throw new Error('disk full');
        return { messages: 1, contacts: 0 };
      },
    });
    await advance(clock, 2_000);
    await waitFor(actor, (s) => s.status === 'done');
    expect(calls).toBe(3);
    expect(audits[0]?.status).toBe('completed');
  });

  it('ends "rolledBack" with the reason after 3 failed commits', async () => {
    const { actor, clock, audits } = incident({
      transfer: async () => {
        throw new Error('disk full');
      },
    });
    await advance(clock, 5_000);
    await waitFor(actor, (s) => s.status === 'done');
    expect(actor.getSnapshot().value).toBe('rolledBack');
    expect(audits[0]).toMatchObject({
      status: 'rolledBack',
      note: 'commit failed 3 times, nothing moved: disk full',
    });
  });

  it('ends "rolledBack" when the requested backup is refused, and audits that too', async () => {
    const { actor, audits } = incident({
      selectBackup: async () => {
        throw new Error('requested backup +3 is not routable now');
      },
    });
    await waitFor(actor, (s) => s.status === 'done');
    expect(audits[0]).toMatchObject({
      status: 'rolledBack',
      note: 'requested backup +3 is not routable now',
    });
  });

  it('completes with a note when the backup stops being routable while activating', async () => {
    const { actor, audits } = incident({
      activate: async () => {
        throw new Error('backup +2 stopped being routable');
      },
    });
    await waitFor(actor, (s) => s.status === 'done');
    expect(audits[0]).toMatchObject({
      status: 'completed',
      note: 'moved, but the backup is not taking traffic: backup +2 stopped being routable',
    });
  });
});

describe('supervisor', () => {
  function supervisor() {
    const started: string[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const failover = failoverMachine.provide({
      actors: {
        selectBackup: fromPromise<string | null, SelectBackupInput>(async ({ input }) => {
          started.push(input.id);
          await gate;
          return '+2';
        }),
        transfer: fromPromise(async () => ({ messages: 0, contacts: 0 })),
        activate: fromPromise<void, { id: string; from: string; to: string | null }>(async () => undefined),
        audit: fromPromise<void, AuditInput>(async () => undefined),
      },
    });
    const actor = createActor(supervisorMachine.provide({ actors: { failover } }), {
      input: { masters: [], firstIncident: 7 },
    }).start();
    return { actor, started, release: () => release() };
  }

  it('runs at most one incident per failed master, however often "master.failed" comes', async () => {
    const { actor, started, release } = supervisor();
    actor.send({ type: 'master.failed', phone: '+1', reason: 'x', permanent: false });
    actor.send({ type: 'master.failed', phone: '+1', reason: 'x again', permanent: false });
    actor.send({ type: 'master.failed', phone: '+3', reason: 'y', permanent: false });
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['fo-7', 'fo-8']);
    release();
    await waitFor(actor, (s) => Object.keys(s.context.incidents).length === 0);
    // still failed (no recovery seen): a repeated "master.failed" starts nothing new
    actor.send({ type: 'master.failed', phone: '+1', reason: 'x', permanent: false });
    await new Promise((r) => setImmediate(r));
    expect(started).toHaveLength(2);
    // after it recovered, a new failure is a new incident
    actor.send({ type: 'master.recovered', phone: '+1' });
    actor.send({ type: 'master.failed', phone: '+1', reason: 'again', permanent: false });
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['fo-7', 'fo-8', 'fo-9']);
  });

  it('a master that recovers and fails again while its incident still runs gets a second incident when the first ends', async () => {
    // (found by the whole-system simulation: the new work it took while up stayed on it)
    const { actor, started, release } = supervisor();
    actor.send({ type: 'master.failed', phone: '+1', reason: 'first', permanent: false });
    actor.send({ type: 'master.recovered', phone: '+1' });
    actor.send({ type: 'master.failed', phone: '+1', reason: 'second', permanent: false });
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['fo-7']); // one at a time
    release();
    await waitFor(actor, (s) => started.length === 2 && Object.keys(s.context.incidents).length === 0);
    expect(started).toEqual(['fo-7', 'fo-8']);
  });

  it('a master that fails again without having recovered in between does not get a second incident', async () => {
    const { actor, started, release } = supervisor();
    actor.send({ type: 'master.failed', phone: '+1', reason: 'first', permanent: false });
    actor.send({ type: 'master.recovering', phone: '+1', attempt: 2 });
    actor.send({ type: 'master.failed', phone: '+1', reason: 'reconnect failed', permanent: false });
    release();
    await waitFor(actor, (s) => Object.keys(s.context.incidents).length === 0);
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual(['fo-7']);
  });
});
