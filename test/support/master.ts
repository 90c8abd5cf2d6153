// A master actor on a simulated network and a SimulatedClock, with a log of its states and facts.
import { type Actor, createActor } from 'xstate';
import { createMasterLogic } from '../../actors/master.actor.ts';
import { stateLabel } from '../../actors/master-log.ts';
import { SimNetwork } from '../../actors/sim.transport.ts';
import type { MasterEmitted, MasterSettings } from '../../machines/master.machine.ts';
import { advance, simClock } from './clock.ts';

export function simMaster(phone = '+15550000001', settings: Partial<MasterSettings> = {}) {
  const clock = simClock();
  const network = new SimNetwork({ clock, latencyMs: 20, seed: 7 });
  const logic = createMasterLogic({ transportFor: (p) => network.account(p), clock });
  const actor: Actor<typeof logic> = createActor(logic, { input: { phone, settings }, clock });
  const states: string[] = [];
  const facts: MasterEmitted[] = [];
  actor.subscribe((s) => {
    const name = stateLabel(s.value);
    if (states.at(-1) !== name) states.push(name);
  });
  actor.on('*', (e) => facts.push(e));
  actor.start();
  return {
    clock,
    network,
    actor,
    states,
    facts,
    state: () => stateLabel(actor.getSnapshot().value),
    advance: (ms: number) => advance(clock, ms, 25),
    fault: (kind: Parameters<SimNetwork['inject']>[1]['kind'], extra: object = {}) =>
      network.inject(phone, { kind, ...extra }),
  };
}
