// The balancer's routing table: one row per master in typed arrays (struct of arrays), mutated in
// place, so a routing decision reads numbers and allocates nothing. Strategies are functions over it.

import type { BalancerMasterRoute } from '../../machines/balancer.machine.ts';

/** One master as the table sees it (the balancer machine's event payload, one definition for both). */
export type MasterRoute = BalancerMasterRoute;

export interface RoutingTableOptions {
  /** The bucket holds at most this many seconds' worth of tokens (at least one token). Default 10. */
  burstSeconds?: number;
  /** A master with this many messages in flight is skipped. Default: no limit. */
  maxInFlight?: number;
  /** A warming-up number starts at this fraction of its rate. Default 0.1. */
  warmUpStartFraction?: number;
  /** Half-life of the recent-assignment counters behind `share` and balance quality. Default 60 s. */
  shareHalfLifeMs?: number;
  /** Weight of a faster latency sample in the peak EWMA (a slower one is taken at once). Default 0.3. */
  ewmaAlpha?: number;
  /** Latency estimate of a master before any sample, when the fleet has none either. Default 100 ms. */
  defaultLatencyMs?: number;
  /** Seeds the table's integer random generator (least-loaded); inject a seeded one to replay. Default Math.random. */
  random?: () => number;
}

/** How a range of masters is shared (see src/routing/round-robin.ts). */
export const RANGE_ROTATE = 0;
export const RANGE_SCHEDULE = 1;
export const RANGE_SMOOTH = 2;

/** Longest precomputed weighted schedule, in schedule entries x range members (its build cost). */
const MAX_SCHEDULE_WORK = 4_000_000;

/**
 * Per-range state of the round robin in src/routing/round-robin.ts over one ordering of a pool's
 * members; the per-range fields are indexed by the range's start position.
 */
export class RangeState {
  /** RANGE_ROTATE (equal weights), RANGE_SCHEDULE (weighted, precomputed) or RANGE_SMOOTH (weighted, live). */
  readonly mode: Uint8Array;
  /** Next entry to try: a position relative to the range start (rotate) or in its schedule. */
  readonly cursor: Int32Array;
  /** Smooth weighted round robin's current weight per position (RANGE_SMOOTH). */
  readonly current: Float64Array;
  /** Where the range's schedule starts in `schedule` and how long it is. */
  readonly scheduleStart: Int32Array;
  readonly scheduleLength: Int32Array;
  /** nginx's smooth weighted sequence for one full cycle of each scheduled range: positions in the ordering. */
  schedule: Int32Array = new Int32Array(0);
  readonly #entries: number[] = [];

  constructor(n: number) {
    this.mode = new Uint8Array(n);
    this.cursor = new Int32Array(n);
    this.current = new Float64Array(n);
    this.scheduleStart = new Int32Array(n);
    this.scheduleLength = new Int32Array(n);
  }

  /** Chooses how range [start, end) of `order` is shared; call for every range, then finish(). */
  prepare(table: RoutingTable, order: Int32Array, start: number, end: number): void {
    if (end - start <= 1 || uniformWeights(table, order, start, end)) {
      this.mode[start] = RANGE_ROTATE;
      return;
    }
    // The cycle of integer weights divided by their gcd; each decision then costs O(1) instead of O(n).
    let divisor = 0;
    for (let p = start; p < end; p++) {
      const w = table.weight[order[p]!]!;
      if (!Number.isInteger(w)) {
        this.mode[start] = RANGE_SMOOTH;
        return;
      }
      divisor = gcd(divisor, w);
    }
    let cycle = 0;
    for (let p = start; p < end; p++) cycle += table.weight[order[p]!]! / divisor;
    if (cycle * (end - start) > MAX_SCHEDULE_WORK) {
      this.mode[start] = RANGE_SMOOTH;
      return;
    }
    this.mode[start] = RANGE_SCHEDULE;
    this.scheduleStart[start] = this.#entries.length;
    this.scheduleLength[start] = cycle;
    const current = new Float64Array(end - start);
    for (let k = 0; k < cycle; k++) {
      let best = 0;
      for (let q = 0; q < end - start; q++) {
        current[q]! += table.weight[order[start + q]!]! / divisor;
        if (current[q]! > current[best]!) best = q;
      }
      current[best]! -= cycle;
      this.#entries.push(start + best);
    }
  }

  finish(): void {
    this.schedule = Int32Array.from(this.#entries);
    this.#entries.length = 0;
  }
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/**
 * A set of masters a strategy chooses from: the whole fleet, or the masters of one region.
 * Orderings and schedules are rebuilt when the fleet changes (rare), never during a decision.
 */
export class Pool {
  /** Table indices, in table order. */
  readonly members: Int32Array;
  readonly n: number;
  readonly rr: RangeState;
  /** Members by (priority, insertion), and for each position the end of its priority group. */
  readonly byPriority: Int32Array;
  readonly groupEnd: Int32Array;
  readonly prio: RangeState;

  constructor(table: RoutingTable, members: Int32Array) {
    this.members = members;
    const n = members.length;
    this.n = n;
    this.rr = new RangeState(n);
    if (n > 0) this.rr.prepare(table, members, 0, n);
    this.rr.finish();
    this.byPriority = Int32Array.from(members).sort(
      (a, b) => table.priority[a]! - table.priority[b]! || table.seq[a]! - table.seq[b]!,
    );
    this.groupEnd = new Int32Array(n);
    this.prio = new RangeState(n);
    for (let start = 0; start < n; ) {
      const p = table.priority[this.byPriority[start]!]!;
      let end = start + 1;
      while (end < n && table.priority[this.byPriority[end]!] === p) end++;
      for (let q = start; q < end; q++) this.groupEnd[q] = end;
      this.prio.prepare(table, this.byPriority, start, end);
      start = end;
    }
    this.prio.finish();
  }
}

function uniformWeights(table: RoutingTable, order: Int32Array, start: number, end: number): boolean {
  const w = table.weight[order[start]!];
  for (let p = start + 1; p < end; p++) if (table.weight[order[p]!] !== w) return false;
  return true;
}

const EMPTY_POOL_MEMBERS = new Int32Array(0);

export class RoutingTable {
  size = 0;
  /**
   * The time decisions are made at (clock ms), set by the caller before deciding. Kept in a typed
   * array rather than passed around: V8 boxes a non-Smi double (any Date.now()) at every call it
   * crosses, which would allocate on every decision.
   */
  readonly time = new Float64Array(1);
  /**
   * xorshift32 state for random choices (least-loaded). Integers in a typed array: a double from a
   * random function per draw would be boxed by V8 on every decision.
   */
  readonly rng = new Int32Array(1);
  readonly phones: string[] = [];
  readonly regions: string[] = [];
  routable = new Uint8Array(0);
  priority = new Int32Array(0);
  weight = new Float64Array(0);
  /** Full refill rate, tokens per ms. */
  ratePerMs = new Float64Array(0);
  tokens = new Float64Array(0);
  refilledAt = new Float64Array(0);
  addedAt = new Float64Array(0);
  warmUpMs = new Float64Array(0);
  inFlight = new Int32Array(0);
  assigned = new Float64Array(0);
  completed = new Float64Array(0);
  failed = new Float64Array(0);
  latencyEwma = new Float64Array(0);
  latencySum = new Float64Array(0);
  latencyCount = new Float64Array(0);
  /** Exponentially decayed assignment count and when it was last decayed. */
  recent = new Float64Array(0);
  recentAt = new Float64Array(0);
  /** Insertion order: stable tie-break for the priority ordering. */
  seq = new Float64Array(0);

  readonly burstMs: number;
  readonly maxInFlight: number;
  readonly warmUpStartFraction: number;
  readonly ewmaAlpha: number;
  readonly defaultLatencyMs: number;
  readonly #decayPerMs: number;
  readonly #index = new Map<string, number>();
  #nextSeq = 0;
  #all: Pool | undefined;
  #byRegion = new Map<string, Pool>();
  #empty: Pool | undefined;

  constructor(options: RoutingTableOptions = {}) {
    this.burstMs = (options.burstSeconds ?? 10) * 1000;
    this.maxInFlight = options.maxInFlight ?? Number.POSITIVE_INFINITY;
    this.warmUpStartFraction = options.warmUpStartFraction ?? 0.1;
    this.ewmaAlpha = options.ewmaAlpha ?? 0.3;
    this.defaultLatencyMs = options.defaultLatencyMs ?? 100;
    this.#decayPerMs = Math.LN2 / (options.shareHalfLifeMs ?? 60_000);
    this.rng[0] = Math.floor((options.random ?? Math.random)() * 0x7fffffff) | 1;
  }

  /** A uniform random integer in [0, n). */
  draw(n: number): number {
    let x = this.rng[0]!;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng[0] = x;
    return (x >>> 0) % n;
  }

  /**
   * Saves every piece of strategy state a decision moves (rotation cursors, smooth weights, random
   * state); the returned function puts it back. For dry runs (peek); allocates.
   */
  checkpoint(): () => void {
    this.#ensurePools();
    const pools = [this.#all!, this.#empty!, ...this.#byRegion.values()];
    const saved = pools.flatMap((pool) =>
      [pool.rr, pool.prio].map((state) => ({
        state,
        cursor: state.cursor.slice(),
        current: state.current.slice(),
      })),
    );
    const rng = this.rng[0]!;
    return () => {
      for (const { state, cursor, current } of saved) {
        state.cursor.set(cursor);
        state.current.set(current);
      }
      this.rng[0] = rng;
    };
  }

  indexOf(phone: string): number {
    return this.#index.get(phone) ?? -1;
  }

  /** Adds a master (not routable until told so) or replaces the settings of a known one. */
  add(route: MasterRoute): number {
    const now = this.time[0]!;
    const known = this.#index.get(route.phone);
    if (known !== undefined) {
      this.#configure(known, route, false);
      return known;
    }
    if (this.size === this.routable.length) this.#grow(Math.max(8, this.size * 2));
    const i = this.size++;
    this.phones[i] = route.phone;
    this.#index.set(route.phone, i);
    this.routable[i] = 0;
    this.inFlight[i] = 0;
    this.assigned[i] = 0;
    this.completed[i] = 0;
    this.failed[i] = 0;
    this.latencySum[i] = 0;
    this.latencyCount[i] = 0;
    this.recent[i] = 0;
    this.recentAt[i] = now;
    this.seq[i] = this.#nextSeq++;
    this.latencyEwma[i] = this.#fleetLatency();
    this.#configure(i, route, true);
    return i;
  }

  #configure(i: number, route: MasterRoute, fresh: boolean): void {
    const now = this.time[0]!;
    this.regions[i] = route.region;
    this.priority[i] = route.priority;
    this.weight[i] = route.weight > 0 ? route.weight : 1;
    this.ratePerMs[i] = route.ratePerMinute / 60_000;
    this.warmUpMs[i] = route.warmUpMs ?? 0;
    if (fresh) {
      this.addedAt[i] = now;
      this.refilledAt[i] = now;
      // A warming-up number starts with one token, an established one with a full bucket.
      this.tokens[i] = this.warmUpMs[i]! > 0 ? 1 : this.capacity(i);
    } else {
      this.refill(i);
      this.tokens[i] = Math.min(this.tokens[i]!, this.capacity(i));
    }
    this.#invalidate();
  }

  /** Removes a master; the last row moves into its place. */
  remove(phone: string): boolean {
    const i = this.#index.get(phone);
    if (i === undefined) return false;
    this.#index.delete(phone);
    const last = --this.size;
    if (i !== last) {
      const moved = this.phones[last]!;
      this.phones[i] = moved;
      this.regions[i] = this.regions[last]!;
      this.#index.set(moved, i);
      for (const column of this.#columns()) column[i] = column[last]!;
    }
    this.phones.length = last;
    this.regions.length = last;
    this.#invalidate();
    return true;
  }

  setRoutable(i: number, routable: boolean): void {
    this.routable[i] = routable ? 1 : 0;
  }

  setPriority(i: number, priority: number): void {
    if (this.priority[i] === priority) return;
    this.priority[i] = priority;
    this.#invalidate();
  }

  /** The fraction of its full rate a master may use now (warm-up ramp). */
  rateFraction(i: number): number {
    const ramp = this.warmUpMs[i]!;
    if (ramp <= 0) return 1;
    const age = this.time[0]! - this.addedAt[i]!;
    if (age >= ramp) return 1;
    const f0 = this.warmUpStartFraction;
    return f0 + ((1 - f0) * Math.max(age, 0)) / ramp;
  }

  /** Tokens the bucket holds at most now. */
  capacity(i: number): number {
    return Math.max(1, this.ratePerMs[i]! * this.rateFraction(i) * this.burstMs);
  }

  /**
   * Tops up the bucket for the time since the last refill. Written out (no helper returning a
   * double): V8 boxes a double that crosses a call boundary, and this runs for every master scanned.
   */
  refill(i: number): void {
    const now = this.time[0]!;
    const elapsed = now - this.refilledAt[i]!;
    if (elapsed <= 0) return;
    let rate = this.ratePerMs[i]!;
    const ramp = this.warmUpMs[i]!;
    if (ramp > 0) {
      const age = now - this.addedAt[i]!;
      if (age < ramp) {
        const f0 = this.warmUpStartFraction;
        rate *= f0 + ((1 - f0) * Math.max(age, 0)) / ramp;
      }
    }
    let cap = rate * this.burstMs;
    if (cap < 1) cap = 1;
    const tokens = this.tokens[i]! + elapsed * rate;
    this.tokens[i] = Math.min(tokens, cap);
    this.refilledAt[i] = now;
  }

  /** Routable, below the in-flight limit and holding a token: may take a message at table.time. */
  eligible(i: number): boolean {
    if (this.routable[i] !== 1 || this.inFlight[i]! >= this.maxInFlight) return false;
    this.refill(i);
    return this.tokens[i]! >= 1;
  }

  /** Records an assignment: one token spent, one more in flight. Call only after eligible(). */
  commit(i: number): void {
    const now = this.time[0]!;
    this.tokens[i]! -= 1;
    this.inFlight[i]! += 1;
    this.assigned[i]! += 1;
    const dt = now - this.recentAt[i]!;
    const recent = this.recent[i]!;
    this.recent[i] = (dt > 0 ? recent * Math.exp(-dt * this.#decayPerMs) : recent) + 1;
    this.recentAt[i] = now;
  }

  /** The decayed recent-assignment count of master i at table.time. */
  recentCount(i: number): number {
    const dt = this.time[0]! - this.recentAt[i]!;
    const r = this.recent[i]!;
    return dt > 0 ? r * Math.exp(-dt * this.#decayPerMs) : r;
  }

  release(i: number, outcome: 'sent' | 'failed' | 'moved', latencyMs: number | undefined): void {
    if (this.inFlight[i]! > 0) this.inFlight[i]! -= 1;
    this.observe(i, outcome, latencyMs);
  }

  /** Records a finished send's outcome and latency without touching the in-flight count. */
  observe(i: number, outcome: 'sent' | 'failed' | 'moved', latencyMs: number | undefined): void {
    if (outcome === 'sent') this.completed[i]! += 1;
    else if (outcome === 'failed') this.failed[i]! += 1;
    if (latencyMs !== undefined && latencyMs >= 0 && outcome !== 'moved') this.observeLatency(i, latencyMs);
  }

  /**
   * Peak EWMA (Finagle, Envoy): a slower sample is taken at once, a faster one only blends in,
   * so a master that turns slow loses traffic immediately and wins it back gradually.
   */
  observeLatency(i: number, latencyMs: number): void {
    const old = this.latencyEwma[i]!;
    this.latencyEwma[i] =
      this.latencyCount[i] === 0 || latencyMs > old ? latencyMs : old + this.ewmaAlpha * (latencyMs - old);
    this.latencySum[i]! += latencyMs;
    this.latencyCount[i]! += 1;
  }

  /** A latency estimate from a probe, used only while a master has no send samples of its own. */
  hintLatency(i: number, latencyMs: number): void {
    if (this.latencyCount[i] === 0) this.latencyEwma[i] = latencyMs;
  }

  /** All masters. */
  all(): Pool {
    this.#ensurePools();
    return this.#all!;
  }

  /** The masters serving `region`, or an empty pool. */
  region(region: string): Pool {
    this.#ensurePools();
    return this.#byRegion.get(region) ?? this.#empty!;
  }

  #invalidate(): void {
    this.#all = undefined;
  }

  #ensurePools(): void {
    if (this.#all) return;
    const members = new Int32Array(this.size);
    const byRegion = new Map<string, number[]>();
    for (let i = 0; i < this.size; i++) {
      members[i] = i;
      const region = this.regions[i]!;
      const list = byRegion.get(region);
      if (list) list.push(i);
      else byRegion.set(region, [i]);
    }
    this.#byRegion = new Map([...byRegion].map(([r, list]) => [r, new Pool(this, Int32Array.from(list))]));
    this.#empty = new Pool(this, EMPTY_POOL_MEMBERS);
    this.#all = new Pool(this, members);
  }

  #fleetLatency(): number {
    let sum = 0;
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      if (this.latencyCount[i]! > 0) {
        sum += this.latencyEwma[i]!;
        n++;
      }
    }
    return n > 0 ? sum / n : this.defaultLatencyMs;
  }

  #columns() {
    return [
      this.routable,
      this.priority,
      this.weight,
      this.ratePerMs,
      this.tokens,
      this.refilledAt,
      this.addedAt,
      this.warmUpMs,
      this.inFlight,
      this.assigned,
      this.completed,
      this.failed,
      this.latencyEwma,
      this.latencySum,
      this.latencyCount,
      this.recent,
      this.recentAt,
      this.seq,
    ] as const;
  }

  #grow(n: number): void {
    const grow = <T extends Uint8Array | Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
      const next = make(n);
      next.set(old);
      return next;
    };
    const u8 = (k: number) => new Uint8Array(k);
    const i32 = (k: number) => new Int32Array(k);
    const f64 = (k: number) => new Float64Array(k);
    this.routable = grow(this.routable, u8);
    this.priority = grow(this.priority, i32);
    this.inFlight = grow(this.inFlight, i32);
    this.weight = grow(this.weight, f64);
    this.ratePerMs = grow(this.ratePerMs, f64);
    this.tokens = grow(this.tokens, f64);
    this.refilledAt = grow(this.refilledAt, f64);
    this.addedAt = grow(this.addedAt, f64);
    this.warmUpMs = grow(this.warmUpMs, f64);
    this.assigned = grow(this.assigned, f64);
    this.completed = grow(this.completed, f64);
    this.failed = grow(this.failed, f64);
    this.latencyEwma = grow(this.latencyEwma, f64);
    this.latencySum = grow(this.latencySum, f64);
    this.latencyCount = grow(this.latencyCount, f64);
    this.recent = grow(this.recent, f64);
    this.recentAt = grow(this.recentAt, f64);
    this.seq = grow(this.seq, f64);
  }
}
