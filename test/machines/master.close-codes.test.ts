// Close codes as the master machine reads them (pure transitions): which ones reconnect, which
// ones need a person, and the bad session (500) that is retried a few times and then given up.
import { describe, expect, it } from 'vitest';
import { initialTransition, type SnapshotFrom, transition } from 'xstate';
import {
  classifyDisconnect,
  LIMITED_CLOSE_ATTEMPTS,
  type MasterEvent,
  masterMachine,
} from '../../machines/master.machine.ts';

type Snap = SnapshotFrom<typeof masterMachine>;
const PHONE = '+15550000001';
const connected = { type: 'xstate.done.actor.reconnect', output: undefined };
const reconnectFailed = { type: 'xstate.error.actor.reconnect', error: new Error('closed') };
const backoffOver = { type: 'xstate.after.backoff.master.failed.backoff' };
const closed = (code: number, reason?: string) =>
  ({ type: 'transport.connection.closed', code, ...(reason ? { reason } : {}) }) as const;

function run(s: Snap, ...events: (MasterEvent | { type: string })[]): Snap {
  // biome-ignore lint/suspicious/noExplicitAny: xstate.* events are not in MasterEvent
  for (const e of events) s = transition(masterMachine, s, e as any)[0];
  return s;
}
const healthy = () => run(initialTransition(masterMachine, { phone: PHONE })[0], connected);

describe('master machine: close codes', () => {
  it.each([408, 428, 503, 515])(
    'reconnects at once on %i: "recovering.connecting", never "failed"',
    (code) => {
      const s = run(healthy(), closed(code));
      expect(s.value).toEqual({ recovering: 'connecting' });
      expect(classifyDisconnect(code)).toBe('retryable');
    },
  );

  it.each([401, 402, 403, 405, 406, 411, 440])('needs a person on %i: "failed.needsRepair"', (code) => {
    expect(run(healthy(), closed(code)).value).toEqual({ failed: 'needsRepair' });
  });

  it('says "upgrade" for 405 (WhatsApp refuses the client version)', () => {
    expect(run(healthy(), closed(405)).context.lastError).toMatch(/\(405\): .*upgrade switchboard/);
  });

  it("keeps the transport's reason next to the advice for a permanent code", () => {
    const s = run(healthy(), closed(401, 'pair this number: switchboard pair +15550000001'));
    expect(s.context.lastError).toBe(
      'connection closed (401): logged out: pair the number again (pair this number: switchboard pair +15550000001)',
    );
  });

  it(`retries 500 (bad session), then gives up after ${LIMITED_CLOSE_ATTEMPTS} attempts with it again: "failed.needsRepair"`, () => {
    let s = run(healthy(), closed(500));
    expect(s.value).toEqual({ recovering: 'connecting' });
    // each reconnect works, then the session breaks again with 500
    for (let attempt = 1; attempt < LIMITED_CLOSE_ATTEMPTS; attempt++) {
      s = run(s, connected, closed(500));
      expect(s.value).toEqual({ failed: 'backoff' });
      s = run(s, backoffOver);
      expect(s.value).toEqual({ recovering: 'connecting' });
    }
    s = run(s, connected, closed(500));
    expect(s.value).toEqual({ failed: 'needsRepair' });
    expect(s.context.lastError).toMatch(/\(500\), again after 3 attempts: bad session/);
  });

  it('gives up on 500 also when it comes during the connects themselves', () => {
    let s = run(initialTransition(masterMachine, { phone: PHONE })[0]);
    for (let attempt = 1; attempt < LIMITED_CLOSE_ATTEMPTS; attempt++) {
      s = run(s, closed(500), reconnectFailed);
      expect(s.value).toEqual({ failed: 'backoff' });
      s = run(s, backoffOver);
    }
    expect(run(s, closed(500)).value).toEqual({ failed: 'needsRepair' });
  });

  it('does not give up on 500 after other closes, nor after the master was healthy in between', () => {
    // a run of 428s, then one 500: retried
    let s = run(healthy(), closed(428), connected, closed(428), backoffOver, connected, closed(428));
    s = run(s, backoffOver, connected, closed(500));
    expect(s.value).toEqual({ failed: 'backoff' });
    // healthy again resets the history: the next 500 is the first
    s = run(s, backoffOver, connected, { type: 'health.probe.succeeded', latencyMs: 5 });
    s = run(s, { type: 'health.probe.succeeded', latencyMs: 5 });
    expect(s.value).toBe('healthy');
    expect(run(s, closed(500)).value).toEqual({ recovering: 'connecting' });
  });
});
