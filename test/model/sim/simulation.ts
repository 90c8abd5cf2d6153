// A deterministic simulation of the whole runtime (FoundationDB's simulation, TigerBeetle's VOPR):
// the real machines, actors, outbox and store, over sim transports and the in-memory file layer
// with its faults and crashes, on XState's SimulatedClock, with one seeded PRNG for every random
// choice. Time moves from timer to timer (discrete events); between them every promise callback
// runs, and nothing waits on real I/O or real time, so a seed replays exactly.
//
// It plays the client too, keeping what a Jepsen checker needs: which messages were acknowledged
// (202), refused (503) or left without an answer by a crash; and it checks the runtime's
// invariants after every step, and a total-queue check at the end.
import pino from 'pino';
import { SimulatedClock } from 'xstate';
import { stateLabel } from '../../../actors/master-log.ts';
import { SimNetwork } from '../../../actors/sim.transport.ts';
import { SwitchboardSystem } from '../../../actors/system.ts';
import { type Config, parseConfig } from '../../../src/config.ts';
import { seededRandom } from '../../../src/routing/random.ts';
import type { MessageRecord } from '../../../src/store/schema.ts';
import { Store } from '../../../src/store/store.ts';
import { type FaultRule, SimFileSystem } from '../../support/sim-fs.ts';
import type { Coverage } from './coverage.ts';

export const ALL_PHONES = [
  '+971501234567',
  '+971501234568',
  '+14155552671',
  '+447400123456',
  '+4915112345678',
];
export const SIM_RECIPIENTS = Array.from({ length: 24 }, (_, i) => `+97150123${String(10000 + i).slice(1)}`);
const DIR = '/data';
const T0 = Date.UTC(2026, 0, 1);

export const HEALTH = { intervalMs: 1_000, timeoutMs: 500, failureThreshold: 3, recoveryThreshold: 2 };
export const MAX_ATTEMPTS = 3;

/** A state document as a string with its keys sorted (Map order is not part of the state). */
function canonical(doc: Record<string, Record<string, unknown> | undefined>): string {
  const out: Record<string, Record<string, unknown>> = {};
  for (const c of Object.keys(doc).sort()) {
    const entries = doc[c] ?? {};
    out[c] = Object.fromEntries(
      Object.keys(entries)
        .sort()
        .map((k) => [k, entries[k]]),
    );
  }
  return JSON.stringify(out);
}

/** The first few keys whose values differ between two state documents. */
function difference(
  a: Record<string, Record<string, unknown> | undefined>,
  b: Record<string, Record<string, unknown> | undefined>,
): string {
  const out: string[] = [];
  for (const c of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[c] ?? {};
    const y = b[c] ?? {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (JSON.stringify(x[k]) !== JSON.stringify(y[k]))
        out.push(
          `${c}/${k}: memory ${JSON.stringify(x[k])?.slice(0, 400)} disk ${JSON.stringify(y[k])?.slice(0, 400)}`,
        );
      if (out.length >= 3) return out.join('; ');
    }
  }
  return out.join('; ');
}

export class Violation extends Error {
  override name = 'Violation';
}

export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Violation(message);
}

function simConfig(phones: readonly string[], seed: number): Config {
  return parseConfig({
    masters: phones.map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 100_000 })),
    health: HEALTH,
    recovery: { timeoutMs: 2_000, maxAttempts: 3, backoffBaseMs: 500, backoffMaxMs: 4_000 },
    dispatch: { sendTimeoutMs: 2_000, maxInFlight: 4, maxAttempts: MAX_ATTEMPTS, failureThreshold: 5 },
    sim: { latencyMs: 20, seed },
    dataDir: DIR,
  });
}

interface Request {
  to: string;
  text: string;
  key?: string;
}

export class Simulation {
  readonly rng: () => number;
  readonly clock = new SimulatedClock();
  fs: SimFileSystem;
  readonly network: SimNetwork;
  phones: string[];
  config: Config;
  store!: Store;
  system!: SwitchboardSystem;
  readonly #log = pino({ level: process.env.SIM_LOG ?? 'silent' });
  /** id -> the request that got a 202 (or a 200 for a repeated key). */
  readonly acked = new Map<string, Request>();
  /** Texts refused with 503: they must never go out. */
  readonly refused = new Set<string>();
  /** Texts whose request was still waiting for its answer at a crash: they may or may not go out. */
  readonly indeterminate = new Set<string>();
  readonly #pending = new Map<string, Request>();
  readonly keys = new Map<string, Request>();
  /** Archived messages already found in the history files (no need to look again until a crash). */
  readonly #confirmed = new Set<string>();
  readonly #issued = new Set<string>();
  /** Bumped at every crash and restart: which process an answer comes from. */
  #life = 0;
  readonly #seenIncidents = new Set<string>();
  readonly violations: string[] = [];
  #sendsChecked = 0;
  #texts = 0;
  /** master -> the time by which a silent hang must have taken it out of rotation. */
  readonly #detectBy = new Map<string, number>();
  readonly #detach: (() => void)[] = [];
  readonly coverage: Coverage;
  readonly log: string[] = [];

  constructor(
    readonly seed: number,
    masters: number,
    coverage: Coverage,
  ) {
    this.rng = seededRandom(seed);
    this.clock.set(T0);
    this.fs = new SimFileSystem(this.clock);
    this.network = new SimNetwork({
      clock: this.clock,
      latencyMs: 20,
      seed: Math.floor(this.rng() * 2 ** 31),
    });
    this.phones = ALL_PHONES.slice(0, masters);
    this.config = simConfig(this.phones, seed);
    this.coverage = coverage;
  }

  // --- running the runtime --------------------------------------------------------------------

  /**
   * Starts a process on the disk. A disk that fails at start-up makes the service refuse to start
   * (it exits with the error); the operator, or its supervisor, tries again: three times, then the
   * disk is repaired.
   */
  async boot(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#boot();
        return;
      } catch (err) {
        if (!/EIO|ENOSPC/.test((err as Error).message)) throw err;
        this.coverage.hit('start-up: refused while the disk failed');
        if (attempt >= 3) this.fs.heal();
      }
    }
  }

  async #boot(): Promise<void> {
    const latency = this.fs.latencyMs;
    this.fs.latencyMs = 0; // reading the disk at start-up is not what the slow disk is about
    this.store = await Store.open(DIR, {
      fs: this.fs,
      lock: false,
      clock: this.clock,
      checkpointer: 'inline',
      schedule: queueMicrotask,
      freeze: true,
      segmentBytes: 24 * 1024,
      checkpointBytes: 48 * 1024,
      checkpointEveryMs: 5 * 60_000,
      retryMs: { base: 100, max: 2_000 },
      history: { maxBytes: 16 * 1024, maxAgeMs: 10 * 60_000 },
      log: this.#log,
    });
    this.system = await new SwitchboardSystem({
      config: this.config,
      store: this.store,
      log: this.#log,
      clock: this.clock,
      network: this.network,
      random: this.rng,
    }).start();
    this.fs.latencyMs = latency;
    this.#watch();
  }

  #watch(): void {
    const { system, store, coverage } = this;
    // Invariant 1 at the instant of the send: a master sends only a message it owns and has durably
    // marked `sending` (a failover or a reload that moved it in between wins).
    this.network.onSend = (s) => {
      const m = system.outbox.get(s.messageId);
      if (!m || m.master !== s.master || m.status !== 'sending')
        this.#violate(
          `${s.messageId} went on the wire on ${s.master}, which does not own it now (${m ? `${m.status} on ${m.master}` : 'not live'}): ${JSON.stringify(m?.history)}`,
        );
    };
    this.#detach.push(() => {
      this.network.onSend = undefined;
    });
    this.#detach.push(
      system.outbox.onChange((c) => {
        if (c.type !== 'status') return;
        const m = c.message;
        // Invariant 4: a fresh assignment goes to a routable master only.
        if (m.status === 'assigned' && (c.previous === 'queued' || c.previous === 'unknown') && m.master) {
          if (!system.balancer.isRoutable(m.master))
            this.#violate(`${m.id} assigned to ${m.master}, which is not routable`);
          // A resend prefers another master: back on the one it last went out on only if none other
          // could take it (eligibility only falls during a pass, so "eligible now" was eligible then).
          const sendings = m.history.filter((h) => h.status === 'sending');
          const last = sendings.at(-1)?.master;
          if (last === m.master) {
            const other = this.phones.find((p) => p !== m.master && system.balancer.eligible(p));
            if (other) this.#violate(`${m.id} sent again on ${m.master} although ${other} could take it`);
            else this.coverage.hit('resend: back on the same master, no other could take it');
          } else if (last !== undefined) this.coverage.hit('resend: on another master');
        }
        if (m.status === 'sending') coverage.pendingSending.add(m.id);
        if (m.history.at(-1)?.note?.includes('after the message moved'))
          coverage.hit('race: a late send result after its master was failed over');
        if (m.history.at(-1)?.note?.includes('after it moved'))
          coverage.hit('race: a late send result after its master was failed over');
      }),
    );
    this.#detach.push(
      store.onEvent((e) => {
        if (e.type === 'committed') coverage.pendingSending.clear();
        if (e.type === 'unavailable') {
          coverage.hit('store: went unavailable');
          if (coverage.pendingSending.size > 0)
            coverage.hit('race: a commit failed between "sending" and the wire');
          coverage.pendingSending.clear();
        }
        if (e.type === 'recovered') coverage.hit('store: recovered without a restart');
        if (e.type === 'checkpointed') coverage.hit('store: checkpoint written');
      }),
    );
    for (const phone of this.phones) {
      const ref = system.masterRef(phone);
      if (!ref) continue;
      const sub = ref.subscribe((s) => {
        coverage.hit(`master state: ${stateLabel(s.value)}`);
        const incident = system.supervisor.getSnapshot().context.incidents[phone];
        if (incident && s.hasTag('routable'))
          coverage.hit('race: a reconnect finished while its failover was running');
      });
      this.#detach.push(() => sub.unsubscribe());
    }
    const sup = system.supervisor.subscribe((snap) => {
      const running = Object.values(snap.context.incidents);
      for (const i of running) {
        const child = snap.children[i.id] as
          | { getSnapshot(): { value: unknown; context: { backup: string | null } } }
          | undefined;
        const backup = child?.getSnapshot().context.backup;
        if (backup && !system.balancer.isRoutable(backup)) coverage.hit('race: a backup failed mid-incident');
      }
    });
    this.#detach.push(() => sup.unsubscribe());
  }

  #violate(message: string): void {
    this.violations.push(`${this.#time()} ${message}`);
  }

  #time(): string {
    return `t+${this.clock.now() - T0}ms`;
  }

  /** Runs every promise callback that is ready (no real I/O is ever pending here). */
  async drain(): Promise<void> {
    for (let i = 0; i < 2; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** Moves time forward by `ms`, stopping at every timer so promise callbacks run in between. */
  async advance(ms: number): Promise<void> {
    const target = this.clock.now() + ms;
    await this.drain();
    for (let guard = 0; guard < 1_000_000; guard++) {
      let next = Number.POSITIVE_INFINITY;
      // SimulatedClock keeps its timers in a map it does not type as public: the next deadline is
      // what an event-driven simulation needs (a fixed step would either skip callbacks or crawl).
      const timers = (this.clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> })
        .timeouts;
      for (const t of timers.values()) next = Math.min(next, t.start + t.timeout);
      if (next > target) break;
      this.clock.set(Math.max(next, this.clock.now()));
      await this.drain();
    }
    if (this.clock.now() < target) this.clock.set(target);
    await this.drain();
    this.#checkDetection();
  }

  // --- what the client does -------------------------------------------------------------------

  /** Sends messages like an HTTP client would; answers are recorded as they come. */
  accept(requests: Request[]): void {
    // An answer from a process that has since crashed or stopped never reaches the client.
    const life = this.#life;
    for (const r of requests) {
      // A repeat (same key and body) refused says nothing of the first request with that text.
      const repeat = this.#issued.has(r.text);
      this.#issued.add(r.text);
      this.#pending.set(r.text, r);
      if (r.key !== undefined && !this.keys.has(r.key)) this.keys.set(r.key, r);
      this.system
        .send({ to: r.to, text: r.text, ...(r.key === undefined ? {} : { idempotencyKey: r.key }) })
        .then(
          (res) => {
            if (life !== this.#life) return;
            this.#pending.delete(r.text);
            const known = this.acked.get(res.id);
            if (known && (known.to !== r.to || known.text !== r.text))
              this.#violate(`"${r.text}" (key ${r.key}) answered with ${res.id}, which is "${known.text}"`);
            if (!known) this.acked.set(res.id, r);
            if (r.key !== undefined) this.#createdBody.set(r.key, known ?? r);
            if (!res.created)
              this.coverage.hit('client: a repeated idempotency key answered with the first id');
          },
          (err: { code?: string }) => {
            if (life !== this.#life) return;
            this.#pending.delete(r.text);
            if (err.code === 'SB_ERR_STORE_UNAVAILABLE') {
              if (!repeat) this.refused.add(r.text);
              this.coverage.hit('client: refused with 503 while the store could not write');
            } else if (err.code === 'SB_ERR_IDEMPOTENCY_KEY_REUSED') {
              const created = r.key === undefined ? undefined : this.#createdBody.get(r.key);
              if (created && created.to === r.to && created.text === r.text)
                this.#violate(`"${r.text}": 422 for key ${r.key} although the body is the same`);
              this.coverage.hit('client: idempotency key reused with another body (422)');
            } else this.#violate(`"${r.text}": unexpected error ${err.code}: ${(err as Error).message}`);
          },
        );
    }
  }

  /** key -> the request it created (as the client learned it). */
  readonly #createdBody = new Map<string, Request>();

  nextText(): string {
    return `message ${this.#texts++}`;
  }

  // --- faults ---------------------------------------------------------------------------------

  async injectMaster(
    phone: string,
    kind: 'disconnect' | 'hang' | 'slow' | 'flaky' | 'logout' | 'no-ack' | 'heal',
  ): Promise<void> {
    const routable = this.system.balancer.isRoutable(phone);
    const quiet = this.system.transport(phone) as unknown as {
      faults?: { mode: string; slowMs: number | null; errorRate: number; noAck: boolean };
    };
    const clean = quiet.faults?.mode === 'ok' && quiet.faults.slowMs === null && quiet.faults.errorRate === 0;
    this.network.inject(phone, {
      kind,
      latencyMs: 800 + Math.floor(this.rng() * 1_500),
      errorRate: 0.3 + this.rng() * 0.6,
    });
    this.coverage.hit(`fault: ${kind}`);
    if (kind === 'hang' && routable && clean) {
      const s = this.system.masterRef(phone)!.getSnapshot();
      if (s.matches('healthy'))
        this.#detectBy.set(
          phone,
          this.clock.now() + HEALTH.failureThreshold * (HEALTH.intervalMs + HEALTH.timeoutMs) + 50,
        );
    } else if (kind === 'heal' || kind === 'disconnect' || kind === 'logout') this.#detectBy.delete(phone);
    if ((kind === 'disconnect' || kind === 'logout') && routable && clean) this.#closeCheck = phone;
    await this.drain();
    this.#checkDetection();
  }

  #closeCheck: string | null = null;

  /** After a close, the master is out of rotation at once; after a silent hang, within the bound. */
  #checkDetection(): void {
    if (this.#closeCheck) {
      if (this.system.balancer.isRoutable(this.#closeCheck))
        this.#violate(`${this.#closeCheck} still routable after its connection closed`);
      this.#closeCheck = null;
    }
    for (const [phone, by] of this.#detectBy) {
      if (!this.system.balancer.isRoutable(phone)) {
        this.#detectBy.delete(phone);
        this.coverage.hit('detection: a silent hang caught by the probes');
      } else if (this.clock.now() > by) {
        this.#violate(
          `${phone} hung but still routable after ${HEALTH.failureThreshold} x (interval + timeout)`,
        );
        this.#detectBy.delete(phone);
      }
    }
  }

  disk(rule: FaultRule | 'slow' | 'full' | 'heal', latencyMs = 50): void {
    if (rule === 'heal') {
      this.fs.heal();
      return;
    }
    if (rule === 'slow') {
      this.fs.latencyMs = latencyMs;
      this.coverage.hit('disk: slow');
      return;
    }
    if (rule === 'full') {
      this.fs.capacity = this.fs.used + Math.floor(this.rng() * 2_000);
      this.coverage.hit('disk: full');
      return;
    }
    this.fs.fail({ ...rule, path: 'journal-' });
    this.coverage.hit(
      `disk: ${rule.code} on ${rule.op}${rule.shortBytes !== undefined ? ' after a short write' : ''}`,
    );
  }

  /**
   * Power loss: the process dies now, the disk keeps what it had (and, by the coin, some of what was
   * written but not synced); a new process starts on it with `phones` as its masters.
   */
  async crash(torn: 'none' | 'some' | 'all', phones = this.phones): Promise<void> {
    if (this.store.committing) this.coverage.hit('crash: while a commit was on its way to disk');
    for (const text of this.#pending.keys()) this.indeterminate.add(text);
    this.#pending.clear();
    this.#life++;
    for (const d of this.#detach.splice(0)) d();
    this.system.halt();
    this.store.halt();
    let kept = 0;
    this.fs = this.fs.crash((unsynced) => {
      const n = torn === 'none' ? 0 : torn === 'all' ? unsynced : Math.floor(this.rng() * (unsynced + 1));
      kept += n;
      return n;
    });
    if (kept > 0) this.coverage.hit('crash: unsynced bytes reached the disk (torn tail)');
    this.coverage.hit(`crash: ${torn}`);
    this.#detectBy.clear();
    this.#closeCheck = null;
    this.#confirmed.clear();
    this.#reconfigure(phones);
    await this.boot();
  }

  /** A clean stop (SIGTERM) and a start with `phones` as the masters (added or removed ones). */
  async restart(phones = this.phones): Promise<void> {
    this.#life++;
    for (const d of this.#detach.splice(0)) d();
    let phase = 'system.stop';
    const stopping = (async () => {
      await this.system.stop(0);
      phase = 'store.close';
      await this.store.close();
      phase = 'closed';
    })();
    let done = false;
    void stopping.finally(() => {
      done = true;
    });
    // (a checkpoint at close on a slow disk reads every segment: give it two minutes)
    for (let i = 0; i < 1_200 && !done; i++) await this.advance(100);
    check(
      done,
      `${this.#time()} a clean stop did not finish in 120 s (${phase}): ${JSON.stringify(this.store.diagnostics())} clock ${JSON.stringify({ flushing: (this.clock as unknown as { _flushing: boolean })._flushing, timers: (this.clock as unknown as { timeouts: Map<number, unknown> }).timeouts.size })}`,
    );
    await stopping;
    for (const text of this.#pending.keys()) this.indeterminate.add(text);
    this.#pending.clear();
    this.#detectBy.clear();
    this.#closeCheck = null;
    this.coverage.hit(
      phones.join() === this.phones.join() ? 'restart: same masters' : 'restart: masters changed',
    );
    this.#reconfigure(phones);
    await this.boot();
  }

  #reconfigure(phones: string[]): void {
    if (phones.join() !== this.phones.join()) {
      this.phones = [...phones];
      this.config = simConfig(this.phones, this.seed);
    }
  }

  // --- invariants -----------------------------------------------------------------------------

  /** The runtime's invariants (README "How it keeps messages") and the simulation's own, after a step. */
  async checkInvariants(): Promise<void> {
    // The checks read the disk; they must not wait on the slow disk's clock (nobody advances it here).
    const latency = this.fs.latencyMs;
    this.fs.latencyMs = 0;
    try {
      await this.#checkInvariants();
    } finally {
      this.fs.latencyMs = latency;
    }
  }

  async #checkInvariants(): Promise<void> {
    const { system, store } = this;
    if (this.violations.length > 0) throw new Violation(this.violations.join('\n'));
    // 1. nothing acknowledged is lost
    for (const id of this.acked.keys()) {
      if (store.get('messages', id) || this.#confirmed.has(id)) continue;
      const m = await system.outbox.find(id);
      check(m, `${this.#time()} acknowledged message ${id} ("${this.acked.get(id)?.text}") is lost`);
      if (!store.get('messages', id)) this.#confirmed.add(id);
    }
    // 3. nothing on the wire twice without "unknown" in its history, nor more than maxAttempts times
    const sends = this.network.sends;
    if (sends.length > this.#sendsChecked) {
      const counts = new Map<string, number>();
      for (const s of sends) counts.set(s.messageId, (counts.get(s.messageId) ?? 0) + 1);
      for (let i = this.#sendsChecked; i < sends.length; i++) {
        const id = sends[i]!.messageId;
        const n = counts.get(id)!;
        check(
          n <= MAX_ATTEMPTS,
          `${this.#time()} ${id} went on the wire ${n} times (maxAttempts ${MAX_ATTEMPTS})`,
        );
        if (n > 1) {
          const m = await system.outbox.find(id);
          check(
            m?.history.some((h) => h.status === 'unknown'),
            `${this.#time()} ${id} sent ${n} times and its history does not say "unknown": ${JSON.stringify(m?.history)}`,
          );
          this.coverage.hit('duplicate: a resend flagged "unknown"');
        }
      }
      this.#sendsChecked = sends.length;
    }
    // 2. one owner; after a completed failover the failed master owns nothing while it stays down
    const sup = system.supervisor.getSnapshot().context;
    for (const phone of this.phones) {
      const ref = system.masterRef(phone);
      if (!ref || system.balancer.isRoutable(phone)) continue;
      const s = ref.getSnapshot();
      const settled = !sup.incidents[phone] && !sup.retries[phone] && store.available;
      if (s.matches('failed') && settled && (sup.failedOver[phone] || s.matches({ failed: 'drained' }))) {
        if (system.outbox.ownedCount(phone) !== 0) {
          const owned = [...store.map('messages').values()].find(
            (m) => m.master === phone && ['assigned', 'sending', 'unknown'].includes(m.status),
          );
          const incidents = [...store.map('failovers').values()].filter((f) => f.from === phone).slice(-2);
          check(
            false,
            `${this.#time()} ${phone} was failed over but still owns ${system.outbox.ownedCount(phone)} messages; state ${JSON.stringify(s.value)}, its last incidents ${JSON.stringify(incidents)}, one of them: ${JSON.stringify(owned?.history)}`,
          );
        }
      }
    }
    // (a restart requeues a removed master's messages in its first commit; with the disk down that waits for the disk)
    if (store.available && !store.committing) {
      for (const m of store.map('messages').values()) {
        // owned = still to be sent by that master; a sent message's `master` only says who sent it
        if (
          m.master !== null &&
          (m.status === 'assigned' || m.status === 'sending' || m.status === 'unknown')
        )
          check(
            this.phones.includes(m.master),
            `${this.#time()} ${m.id} owned by ${m.master}, not a configured master (${m.status}): ${JSON.stringify(m.history)}`,
          );
      }
    }
    for (const f of store.map('failovers').values()) {
      if (this.#seenIncidents.has(f.id) || (f.status !== 'completed' && f.status !== 'rolledBack')) continue;
      this.#seenIncidents.add(f.id);
      this.coverage.hit(
        f.status === 'completed' && f.to === null ? 'incident: no routable backup' : `incident: ${f.status}`,
      );
    }
    // at most one incident per failed master
    const children = Object.values(system.supervisor.getSnapshot().children) as {
      getSnapshot(): { context?: { from?: string } };
    }[];
    const froms = children
      .map((c) => c.getSnapshot().context?.from)
      .filter((f): f is string => typeof f === 'string');
    check(
      new Set(froms).size === froms.length,
      `${this.#time()} two incidents at once for one master: ${froms.join(', ')}`,
    );
    // 5. while the store is down, memory is exactly what the disk holds (a failover whole or absent)
    if (!store.available) {
      const disk = await Store.open(DIR, { fs: this.fs.image(), lock: false, checkpointer: 'off' });
      const onDisk = disk.state.toDocument();
      const inMemory = store.state.toDocument();
      disk.halt();
      check(
        canonical(onDisk) === canonical(inMemory),
        `${this.#time()} the store is down but memory differs from the disk: ${difference(inMemory, onDisk)}`,
      );
    }
  }

  /**
   * The end: heal everything, reset every master, let time pass, then a total-queue check (Jepsen):
   * every acknowledged message sent (or failed with a reason), none lost, none sent that was
   * refused, no unflagged duplicate, nothing left waiting.
   */
  async finish(): Promise<{
    acked: number;
    lost: number;
    unexpected: number;
    duplicated: number;
    failed: number;
  }> {
    this.fs.heal();
    for (const phone of this.phones) this.network.inject(phone, { kind: 'heal' });
    this.#detectBy.clear(); // healed: nothing left to detect
    await this.advance(3_000);
    for (const phone of this.phones) this.system.manualReset(phone);
    await this.advance(60_000);
    await this.checkInvariants();
    let lost = 0;
    let failed = 0;
    for (const [id, r] of this.acked) {
      const m = await this.system.outbox.find(id);
      if (!m) {
        lost++;
        continue;
      }
      if (m.status === 'failed') {
        failed++;
        check(
          /no acknowledgement after \d+ attempts|not on WhatsApp/.test(m.history.at(-1)?.note ?? ''),
          `${id} failed without a reason: ${JSON.stringify(m.history)}`,
        );
      } else
        check(
          ['sent', 'delivered', 'read'].includes(m.status),
          `${id} ("${r.text}") ended ${m.status}: ${JSON.stringify(m.history)}`,
        );
    }
    let unexpected = 0;
    const details: string[] = [];
    let duplicated = 0;
    const counts = new Map<string, number>();
    for (const s of this.network.sends) counts.set(s.messageId, (counts.get(s.messageId) ?? 0) + 1);
    for (const [id, n] of counts) {
      const m: MessageRecord | undefined = await this.system.outbox.find(id);
      const why = (what: string) => {
        unexpected++;
        details.push(`${id} "${m?.text}" ${what}: ${JSON.stringify(m?.history)}`);
      };
      // A request refused with 503 and repeated later (same key and body) while a crash cut the
      // repeat's answer off may have been created by that repeat: indeterminate, not a violation.
      if (!this.acked.has(id) && !(m && this.indeterminate.has(m.text ?? '')))
        why(m && this.refused.has(m.text ?? '') ? 'refused with 503' : 'never acknowledged');
      if (n > 1 && !m?.history.some((h) => h.status === 'unknown')) duplicated++;
    }
    check(lost === 0, `lost ${lost} acknowledged messages`);
    check(
      unexpected === 0,
      `${unexpected} messages went out that were never acknowledged: ${details.join('; ')}`,
    );
    check(duplicated === 0, `${duplicated} messages went out twice without "unknown" in their history`);
    check(
      this.system.outbox.queueLength === 0,
      `${this.system.outbox.queueLength} messages still wait in the queue`,
    );
    for (const phone of this.phones)
      check(
        this.system.outbox.ownedCount(phone) === 0,
        `${phone} still owns ${this.system.outbox.ownedCount(phone)} messages`,
      );
    return { acked: this.acked.size, lost, unexpected, duplicated, failed };
  }

  async close(): Promise<void> {
    for (const d of this.#detach.splice(0)) d();
    this.system.halt();
    this.store.halt();
  }
}
