// Shared by the routing benchmarks: a fleet of always-routable fake masters behind a real balancer,
// recipients over five countries, and a simulated clock.
import { type AnyActorRef, createActor, createMachine } from 'xstate';
import { createBalancer } from '../actors/balancer.actor.ts';
import type { Clock } from '../actors/clock.ts';
import { seededRandom } from '../src/routing/random.ts';

const alwaysUp = createMachine({ id: 'bench-master', initial: 'up', states: { up: { tags: ['routable'] } } });

const REGIONS = ['AE', 'US', 'GB', 'DE', 'IN'];
/** Recipients spread over the masters' regions, +1 numbers included (shared calling code, parsed once). */
const RECIPIENT_FORMATS: [prefix: string, length: number][] = [
  ['+97150', 13],
  ['+1415555', 12],
  ['+447400', 13],
  ['+4930', 12],
  ['+9198765', 13],
];

export function recipients(n: number): string[] {
  return Array.from({ length: n }, (_, k) => {
    const [prefix, length] = RECIPIENT_FORMATS[k % RECIPIENT_FORMATS.length]!;
    const digits = length - prefix.length;
    return (
      prefix +
      String(Math.floor(k / RECIPIENT_FORMATS.length))
        .padStart(digits, '0')
        .slice(-digits)
    );
  });
}

/** Simulated time in a typed array: incrementing a double object field would itself allocate. */
export class ManualClock implements Clock {
  readonly cell = new Float64Array([1_000_000]);
  now = () => this.cell[0]!;
  setTimeout = () => 0;
  clearTimeout = () => {};
  get t(): number {
    return this.cell[0]!;
  }
  set t(ms: number) {
    this.cell[0] = ms;
  }
}

export interface FleetOptions {
  strategy: string;
  masters: number;
  affinity?: boolean;
  maxInFlight?: number;
  weighted?: boolean;
  /** Priorities 0..groups-1 (default: all equal). */
  priorityGroups?: number;
  ratePerMinute?: number;
  /** The balancer's random source (least-loaded's two choices); default 7. */
  seed?: number;
}

export function fleet(options: FleetOptions, clock: Clock) {
  const balancer = createBalancer({
    clock,
    strategy: options.strategy,
    affinity: options.affinity ?? false,
    random: seededRandom(options.seed ?? 7),
    ...(options.maxInFlight ? { maxInFlight: options.maxInFlight } : {}),
  });
  const phones: string[] = [];
  const actors: { stop(): void }[] = [];
  for (let k = 0; k < options.masters; k++) {
    const phone = `+9715${String(k).padStart(8, '0')}`;
    const actor = createActor(alwaysUp).start();
    actors.push(actor);
    balancer.addMaster(
      {
        phone,
        priority: options.priorityGroups ? k % options.priorityGroups : 1,
        region: REGIONS[k % REGIONS.length]!,
        weight: options.weighted ? 1 + (k % 4) : 1,
        ratePerMinute: options.ratePerMinute ?? 1e9,
      },
      actor as AnyActorRef,
    );
    phones.push(phone);
  }
  return {
    balancer,
    phones,
    stop: () => {
      balancer.stop();
      for (const a of actors) a.stop();
    },
  };
}
