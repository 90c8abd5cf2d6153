// The active health check: every `intervalMs` one probe with a `timeoutMs` deadline, results sent
// to the master as events. A callback actor, so leaving the state stops the loop and aborts a probe.
import { fromCallback } from 'xstate';
import type { MasterEvent, ProbeInput } from '../machines/master.machine.ts';
import { type Clock, withTimeout } from './clock.ts';
import type { Transport } from './transport.ts';

export function createHealthProbe(deps: { transportFor: (phone: string) => Transport; clock: Clock }) {
  const { clock } = deps;
  return fromCallback<{ type: 'noop' }, ProbeInput>(({ input, sendBack }) => {
    const transport = deps.transportFor(input.phone);
    let stopped = false;
    let timer: unknown;
    let inFlight: AbortController | undefined;
    const report = (event: MasterEvent) => {
      if (stopped) return;
      sendBack(event);
      schedule();
    };
    const run = () => {
      const started = clock.now();
      inFlight = new AbortController();
      withTimeout(clock, input.timeoutMs, 'probe', (signal) => transport.probe(signal), inFlight.signal).then(
        () => report({ type: 'health.probe.succeeded', latencyMs: clock.now() - started }),
        (err: unknown) =>
          report({ type: 'health.probe.failed', reason: err instanceof Error ? err.message : String(err) }),
      );
    };
    const schedule = () => {
      timer = clock.setTimeout(run, input.intervalMs);
    };
    schedule();
    return () => {
      stopped = true;
      clock.clearTimeout(timer);
      inFlight?.abort(new Error('probe stopped'));
    };
  });
}
