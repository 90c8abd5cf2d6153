// Provides the master machine with its IO: the transport's connection events, the health probe
// and reconnects. Dependencies stay in this closure so snapshots remain plain JSON.
import { fromCallback, fromPromise } from 'xstate';
import { type MasterEvent, masterMachine, type ReconnectInput } from '../machines/master.machine.ts';
import { type Clock, realClock } from './clock.ts';
import { createHealthProbe } from './health-probe.ts';
import type { Transport } from './transport.ts';

export interface MasterDeps {
  /** The transport of a master, by E.164 phone number. */
  transportFor: (phone: string) => Transport;
  clock?: Clock;
}

export function createMasterLogic(deps: MasterDeps) {
  const clock = deps.clock ?? realClock;
  return masterMachine.provide({
    actors: {
      healthProbe: createHealthProbe({ transportFor: deps.transportFor, clock }),
      connectionListener: fromCallback<{ type: 'noop' }, { phone: string }>(({ input, sendBack }) =>
        deps.transportFor(input.phone).onConnection((event) => {
          const out: MasterEvent =
            event.type === 'open'
              ? { type: 'transport.connection.opened' }
              : {
                  type: 'transport.connection.closed',
                  ...(event.code === undefined ? {} : { code: event.code }),
                  ...(event.reason === undefined ? {} : { reason: event.reason }),
                };
          sendBack(out);
        }),
      ),
      reconnect: fromPromise<void, ReconnectInput>(({ input, signal }) =>
        deps.transportFor(input.phone).connect(signal),
      ),
    },
  });
}

export type MasterLogic = ReturnType<typeof createMasterLogic>;
