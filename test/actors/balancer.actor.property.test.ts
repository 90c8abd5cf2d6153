// Property: whatever masters do and whatever is asked, the balancer only ever answers with a master
// that was routable at that moment and within its rate limit (token bucket) and in-flight limit.
// Masters here are tiny up/down actors, so thousands of steps run in a second.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Actor, type AnyActorRef, createActor, createMachine, SimulatedClock } from 'xstate';
import { createBalancer } from '../../actors/balancer.actor.ts';
import { seededRandom } from '../../src/routing/random.ts';
import { STRATEGY_NAMES } from '../../src/routing/registry.ts';

const upDown = createMachine({
  id: 'fake-master',
  initial: 'down',
  states: {
    up: { tags: ['routable'], on: { 'fake.down': 'down' } },
    down: { on: { 'fake.up': 'up' } },
  },
});

const PHONES = ['+971500000001', '+971500000002', '+14155550001', '+447400000001', '+971500000003'];
const REGIONS = ['AE', 'AE', 'US', 'GB', 'AE'];
const RECIPIENTS = [
  '+971501111111',
  '+971502222222',
  '+14155550101',
  '+16135550123',
  '+447400123456',
  '+4930123456',
];
const BURST_SECONDS = 10;

type Command =
  | { kind: 'up' | 'down' | 'add' | 'remove'; m: number }
  | { kind: 'tick'; ms: number }
  | { kind: 'select'; r: number; avoid: number | null }
  | { kind: 'release'; m: number; outcome: 'sent' | 'failed' | 'moved'; latencyMs: number }
  | { kind: 'strategy'; name: string };

const m = fc.integer({ min: 0, max: PHONES.length - 1 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('up' as const, 'down' as const), m }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('add' as const, 'remove' as const), m }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 20_000 }) }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('select' as const),
      r: fc.integer({ min: 0, max: RECIPIENTS.length - 1 }),
      avoid: fc.option(m, { freq: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      m,
      outcome: fc.constantFrom('sent' as const, 'failed' as const, 'moved' as const),
      latencyMs: fc.integer({ min: 1, max: 5_000 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('strategy' as const),
      name: fc.constantFrom(...STRATEGY_NAMES),
    }),
  },
);

const fleetSettings = fc.array(
  fc.record({
    priority: fc.integer({ min: 0, max: 3 }),
    weight: fc.integer({ min: 1, max: 3 }),
    ratePerMinute: fc.integer({ min: 1, max: 120 }),
    warmUpMs: fc.constantFrom(0, 0, 60_000),
  }),
  { minLength: PHONES.length, maxLength: PHONES.length },
);

const options = fc.record({
  affinity: fc.boolean(),
  whenStickyLimited: fc.constantFrom('wait' as const, 'spill' as const),
  maxInFlight: fc.constantFrom(undefined, 1, 3),
  seed: fc.integer(),
});

describe('balancer property', () => {
  it('every chosen master was routable at that moment, within its rate limit and its in-flight limit, not the one to avoid, and the one peek() named', () => {
    fc.assert(
      fc.property(
        fleetSettings,
        options,
        // size 'max': without it fast-check caps the array near 10 commands whatever maxLength says
        fc.array(command, { minLength: 50, maxLength: 300, size: 'max' }),
        (settings, opts, commands) => {
          const clock = new SimulatedClock();
          const balancer = createBalancer({
            clock,
            affinity: opts.affinity,
            whenStickyLimited: opts.whenStickyLimited,
            burstSeconds: BURST_SECONDS,
            random: seededRandom(opts.seed),
            ...(opts.maxInFlight === undefined ? {} : { maxInFlight: opts.maxInFlight }),
          });
          const actors: (Actor<typeof upDown> | undefined)[] = [];
          const present: boolean[] = [];
          const taken: number[][] = PHONES.map(() => []);
          const inFlight = PHONES.map(() => 0);
          const add = (k: number) => {
            const actor = actors[k] ?? createActor(upDown).start();
            actors[k] = actor;
            const s = settings[k]!;
            balancer.addMaster({ phone: PHONES[k]!, region: REGIONS[k]!, ...s }, actor as AnyActorRef);
            present[k] = true;
            taken[k] = []; // a re-added master starts with a fresh bucket
            inFlight[k] = 0;
          };
          try {
            for (let k = 0; k < PHONES.length; k++) add(k);
            for (const c of commands) {
              switch (c.kind) {
                case 'up':
                case 'down':
                  actors[c.m]!.send({ type: c.kind === 'up' ? 'fake.up' : 'fake.down' });
                  break;
                case 'add':
                  add(c.m);
                  break;
                case 'remove':
                  balancer.removeMaster(PHONES[c.m]!);
                  present[c.m] = false;
                  break;
                case 'tick':
                  clock.increment(c.ms);
                  break;
                case 'strategy':
                  balancer.setStrategy(c.name);
                  break;
                case 'release':
                  if (present[c.m] && inFlight[c.m]! > 0) {
                    inFlight[c.m]!--;
                    balancer.release(PHONES[c.m]!, c.outcome, c.latencyMs);
                  }
                  break;
                case 'select': {
                  const to = RECIPIENTS[c.r]!;
                  const avoid = c.avoid === null ? undefined : PHONES[c.avoid]!;
                  const peeked = avoid === undefined ? balancer.peek(to) : undefined;
                  const phone = balancer.select(to, avoid);
                  if (peeked !== undefined) expect(phone, 'peek() then select() disagree').toBe(peeked);
                  if (phone === null) break;
                  expect(phone).not.toBe(avoid);
                  const k = PHONES.indexOf(phone);
                  expect(k).toBeGreaterThanOrEqual(0);
                  expect(present[k], `${phone} was removed`).toBe(true);
                  expect(actors[k]!.getSnapshot().hasTag('routable'), `${phone} was not routable`).toBe(true);
                  const now = clock.now();
                  taken[k]!.push(now);
                  inFlight[k]!++;
                  if (opts.maxInFlight !== undefined)
                    expect(inFlight[k]).toBeLessThanOrEqual(opts.maxInFlight);
                  // Token bucket: in any window [t, now] at most capacity + rate x (now - t) messages.
                  const perMs = settings[k]!.ratePerMinute / 60_000;
                  const capacity = Math.max(1, perMs * BURST_SECONDS * 1000);
                  const times = taken[k]!;
                  for (let j = 0; j < times.length; j++) {
                    const inWindow = times.length - j;
                    expect(inWindow, `${phone} over its rate limit`).toBeLessThanOrEqual(
                      capacity + perMs * (now - times[j]!) + 1e-9,
                    );
                  }
                  break;
                }
              }
            }
          } finally {
            balancer.stop();
            for (const a of actors) a?.stop();
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('without rate pressure, answers a master exactly when one is routable', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...STRATEGY_NAMES),
        fc.array(
          fc.oneof(fc.record({ up: fc.boolean(), m }), fc.integer({ min: 0, max: RECIPIENTS.length - 1 })),
          {
            minLength: 20,
            maxLength: 200,
            size: 'max',
          },
        ),
        (strategy, steps) => {
          const clock = new SimulatedClock();
          const balancer = createBalancer({ clock, strategy, affinity: false, random: seededRandom(1) });
          const actors = PHONES.map((phone, k) => {
            const actor = createActor(upDown).start();
            balancer.addMaster(
              { phone, region: REGIONS[k]!, priority: k, weight: 1, ratePerMinute: 1_000_000 },
              actor as AnyActorRef,
            );
            return actor;
          });
          try {
            for (const step of steps) {
              if (typeof step === 'number') {
                const anyUp = actors.some((a) => a.getSnapshot().hasTag('routable'));
                const phone = balancer.select(RECIPIENTS[step]!);
                expect(phone !== null).toBe(anyUp);
                if (phone) balancer.release(phone, 'sent', 10);
              } else actors[step.m]!.send({ type: step.up ? 'fake.up' : 'fake.down' });
            }
          } finally {
            balancer.stop();
            for (const a of actors) a.stop();
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
