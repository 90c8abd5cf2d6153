// Model-based simulation (fast-check commands) of a 3-5 master fleet on a SimulatedClock: faults,
// heals, resets, sends and clock ticks in any order; the invariants of DESIGN.md section 3 are
// checked after every step, and at the end every accepted message must be sent once the fleet heals.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FaultKind } from '../../actors/sim.transport.ts';
import { PHONES, RECIPIENTS, startTestSystem, type TestSystem } from '../support/system.ts';

interface Model {
  masters: number;
  accepted: number;
}

interface Real {
  t: TestSystem;
  accepted: string[];
  /** Every routing decision with whether the chosen master was routable at that moment. */
  decisions: { phone: string; routable: boolean }[];
}

const DONE = new Set(['sent', 'delivered', 'read']);

async function checkInvariants(r: Real): Promise<void> {
  const { system, network } = r.t;
  // 1. nothing accepted is lost
  for (const id of r.accepted) expect(await system.outbox.find(id), `message ${id} lost`).toBeDefined();
  // 3. no message sent twice unless its history says unknown
  const counts = new Map<string, number>();
  for (const s of network.sends) counts.set(s.messageId, (counts.get(s.messageId) ?? 0) + 1);
  for (const [id, n] of counts) {
    if (n < 2) continue;
    const m = await system.outbox.find(id);
    expect(
      m?.history.some((h) => h.status === 'unknown'),
      `${id} sent ${n}x without "unknown"`,
    ).toBe(true);
  }
  // 4. nothing routed to a master that was not routable
  for (const d of r.decisions) expect(d.routable, `routed to ${d.phone} while not routable`).toBe(true);
  // 2. after a failover completes, the failed master owns nothing while it stays failed
  const { incidents, failedOver } = system.supervisor.getSnapshot().context;
  for (const phone of system.masterPhones()) {
    const failed = system.masterRef(phone)?.getSnapshot().matches('failed');
    if (failed && failedOver[phone] && !incidents[phone]) {
      expect(system.outbox.ownedCount(phone), `${phone} failed over but still owns messages`).toBe(0);
    }
  }
  // owners are single by construction (one `master` field); an owned message's owner is a known master
  for (const m of system.store.map('messages').values()) {
    if (m.master !== null) expect(system.masterPhones()).toContain(m.master);
  }
}

class Send implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly to: number,
    readonly count: number,
  ) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const accepted = await Promise.all(
      Array.from({ length: this.count }, (_, i) =>
        r.t.system.send({ to: RECIPIENTS[(this.to + i) % RECIPIENTS.length]!, text: `to ${this.to}+${i}` }),
      ),
    );
    for (const { id } of accepted) r.accepted.push(id);
    m.accepted += this.count;
    await checkInvariants(r);
  }
  toString = () => `send(${this.count} from recipient #${this.to})`;
}

class Fault implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly master: number,
    readonly kind: FaultKind,
  ) {}
  check = (m: Readonly<Model>) => this.master < m.masters;
  async run(_m: Model, r: Real) {
    r.t.network.inject(PHONES[this.master]!, { kind: this.kind, latencyMs: 1_800, errorRate: 0.5 });
    await r.t.advance(0);
    await checkInvariants(r);
  }
  toString = () => `fault(${PHONES[this.master]}, ${this.kind})`;
}

class Reset implements fc.AsyncCommand<Model, Real> {
  constructor(readonly master: number) {}
  check = (m: Readonly<Model>) => this.master < m.masters;
  async run(_m: Model, r: Real) {
    r.t.system.manualReset(PHONES[this.master]!);
    await r.t.advance(0);
    await checkInvariants(r);
  }
  toString = () => `reset(${PHONES[this.master]})`;
}

class Tick implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    await r.t.advance(this.ms, 50);
    await checkInvariants(r);
  }
  toString = () => `tick(${this.ms} ms)`;
}

const commands = [
  fc
    .tuple(fc.integer({ min: 0, max: RECIPIENTS.length - 1 }), fc.integer({ min: 1, max: 30 }))
    .map(([to, n]) => new Send(to, n)),
  fc
    .tuple(
      fc.integer({ min: 0, max: 4 }),
      fc.constantFrom<FaultKind>('disconnect', 'hang', 'slow', 'flaky', 'logout', 'heal'),
    )
    .map(([m, k]) => new Fault(m, k)),
  fc.integer({ min: 0, max: 4 }).map((m) => new Reset(m)),
  fc.integer({ min: 20, max: 4_000 }).map((ms) => new Tick(ms)),
];

describe('fleet model', () => {
  it('keeps the invariants under any sequence of faults, heals, resets, sends and ticks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 3, max: 5 }),
        fc.commands(commands, { maxCommands: 40 }),
        async (masters, cmds) => {
          const t = await startTestSystem({ masters });
          const real: Real = { t, accepted: [], decisions: [] };
          const select = t.system.balancer.select.bind(t.system.balancer);
          t.system.balancer.select = (to: string) => {
            const phone = select(to);
            if (phone !== null) {
              const routable = t.system.masterRef(phone)?.getSnapshot().hasTag('routable') ?? false;
              real.decisions.push({ phone, routable });
            }
            return phone;
          };
          try {
            await fc.asyncModelRun(() => ({ model: { masters, accepted: 0 }, real }), cmds);
            // Liveness: heal and reset everything; every accepted message ends sent.
            for (const phone of PHONES.slice(0, masters)) t.network.inject(phone, { kind: 'heal' });
            for (const phone of PHONES.slice(0, masters)) t.system.manualReset(phone);
            await t.advance(20_000, 50);
            await checkInvariants(real);
            for (const id of real.accepted) {
              const m = (await t.system.outbox.find(id))!;
              expect(DONE.has(m.status), `${id} ended ${m.status}: ${JSON.stringify(m.history)}`).toBe(true);
            }
          } finally {
            await t.close();
          }
        },
      ),
      {
        numRuns: Number(process.env.MODEL_RUNS ?? 25),
        verbose: 1,
        // A failure prints {seed, path}: replay it with MODEL_SEED=... MODEL_PATH=... npx vitest run test/model
        ...(process.env.MODEL_SEED ? { seed: Number(process.env.MODEL_SEED) } : {}),
        ...(process.env.MODEL_PATH ? { path: process.env.MODEL_PATH, endOnFailure: true } : {}),
      },
    );
  }, 600_000);
});
