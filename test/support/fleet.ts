// Several real master actors on one simulated network and one SimulatedClock, for balancer tests.
import { type Actor, createActor } from 'xstate';
import { createMasterLogic, type MasterLogic } from '../../actors/master.actor.ts';
import { SimNetwork } from '../../actors/sim.transport.ts';
import type { MasterSettings } from '../../machines/master.machine.ts';
import { advance, simClock } from './clock.ts';

export function simFleet(phones: string[], settings: Partial<MasterSettings> = {}) {
  const clock = simClock();
  const network = new SimNetwork({ clock, latencyMs: 20, seed: 7 });
  const logic = createMasterLogic({ transportFor: (p) => network.account(p), clock });
  const actors = new Map<string, Actor<MasterLogic>>();
  const start = (phone: string) => {
    const actor = createActor(logic, { input: { phone, settings }, clock });
    actors.set(phone, actor);
    actor.start();
    return actor;
  };
  for (const phone of phones) start(phone);
  return {
    clock,
    network,
    actors,
    start,
    actor: (phone: string) => actors.get(phone)!,
    advance: (ms: number) => advance(clock, ms, 25),
    fault: (phone: string, kind: Parameters<SimNetwork['inject']>[1]['kind'], extra: object = {}) =>
      network.inject(phone, { kind, ...extra }),
    stop: () => {
      for (const actor of actors.values()) actor.stop();
    },
  };
}
