// The monitor's arithmetic, pure and small enough to check by hand: percentiles, availability over a
// window, the fleet health score (formula in the README) and trends over the report history.

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
}

/** Nearest-rank percentile of `values` (0 < p <= 100); null when there are none. */
export function percentile(values: ArrayLike<number>, p: number): number | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(n, Math.max(1, Math.ceil((p / 100) * n)));
  return sorted[rank - 1]!;
}

/** p50, p95 and p99 by nearest rank (one sort); null when there are no values. */
export function percentiles(values: ArrayLike<number>): Percentiles | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(n, Math.max(1, Math.ceil((p / 100) * n))) - 1]!;
  return { p50: at(50), p95: at(95), p99: at(99) };
}

/** up / elapsed, 1 when no time passed (nothing was observed to be down). */
export function ratio(upMs: number, elapsedMs: number): number {
  if (elapsedMs <= 0) return 1;
  return Math.min(1, Math.max(0, upMs / elapsedMs));
}

export interface ScoreInput {
  masters: readonly { weight: number; state: 'healthy' | 'degraded' | 'failed' | 'recovering' }[];
  /** Share of the window with at least one routable master, 0..1. */
  availability: number;
  /** Sends in the window: null when there were none. */
  sends: { sent: number; failed: number; unknown: number };
  queueLength: number;
  queueWarning: number;
  queueCritical: number;
  /** 0..100; the priority strategy concentrates load by design and does not lower the score. */
  balanceQuality: number;
  strategy: string;
  storeAvailable: boolean;
}

export interface ScoreParts {
  /** Weighted share of masters able to send: healthy 1, degraded 0.5, failed or recovering 0. */
  capacity: number;
  availability: number;
  /** sent / (sent + failed + unknown) in the window; 1 without sends. */
  sendSuccess: number;
  /** 1 under the warning threshold, falling linearly to 0 at the critical one. */
  queue: number;
  /** balance quality / 100 (1 under the priority strategy). */
  balance: number;
}

export const SCORE_WEIGHTS: Readonly<ScoreParts> = {
  capacity: 0.4,
  availability: 0.2,
  sendSuccess: 0.2,
  queue: 0.1,
  balance: 0.1,
};

/**
 * Fleet health, 0-100: round(100 x (0.4 capacity + 0.2 availability + 0.2 sendSuccess + 0.1 queue
 * + 0.1 balance)), and 0 when no master is routable or the store cannot write (the service cannot
 * send then, whatever the rest says).
 */
export function healthScore(input: ScoreInput): { score: number; parts: ScoreParts } {
  let weights = 0;
  let able = 0;
  let routable = 0;
  for (const m of input.masters) {
    weights += m.weight;
    if (m.state === 'healthy') able += m.weight;
    else if (m.state === 'degraded') able += m.weight / 2;
    if (m.state === 'healthy' || m.state === 'degraded') routable++;
  }
  const { sent, failed, unknown } = input.sends;
  const tried = sent + failed + unknown;
  const span = input.queueCritical - input.queueWarning;
  const over = input.queueLength - input.queueWarning;
  const parts: ScoreParts = {
    capacity: weights > 0 ? able / weights : 0,
    availability: Math.min(1, Math.max(0, input.availability)),
    sendSuccess: tried > 0 ? sent / tried : 1,
    queue: over < 0 ? 1 : span <= 0 ? 0 : 1 - Math.min(1, over / span),
    balance: input.strategy === 'priority' ? 1 : Math.min(1, Math.max(0, input.balanceQuality / 100)),
  };
  if (routable === 0 || !input.storeAvailable) return { score: 0, parts };
  let sum = 0;
  for (const k of Object.keys(SCORE_WEIGHTS) as (keyof ScoreParts)[]) sum += SCORE_WEIGHTS[k] * parts[k];
  return { score: Math.round(100 * sum), parts };
}

export interface Trend {
  samples: number;
  first: number | null;
  last: number | null;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Least-squares slope, per hour. */
  slopePerHour: number | null;
  /** up / down when the fitted change over the window is at least 5% of max(|mean|, 1); else flat. */
  direction: 'up' | 'down' | 'flat' | null;
}

/** The trend of a series of (time ms, value) points; points whose value is null are left out. */
export function trend(points: readonly { at: number; value: number | null }[]): Trend {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const p of points) {
    if (p.value === null || !Number.isFinite(p.value)) continue;
    xs.push(p.at);
    ys.push(p.value);
  }
  const n = ys.length;
  if (n === 0)
    return {
      samples: 0,
      first: null,
      last: null,
      min: null,
      max: null,
      mean: null,
      slopePerHour: null,
      direction: null,
    };
  const mean = ys.reduce((a, b) => a + b, 0) / n;
  let slope = 0;
  if (n >= 2) {
    const mx = xs.reduce((a, b) => a + b, 0) / n;
    let num = 0;
    let den = 0;
    for (let i = 0; i < n; i++) {
      num += (xs[i]! - mx) * (ys[i]! - mean);
      den += (xs[i]! - mx) ** 2;
    }
    slope = den > 0 ? num / den : 0;
  }
  const span = n >= 2 ? xs[n - 1]! - xs[0]! : 0;
  const change = slope * span;
  const direction =
    Math.abs(change) < 0.05 * Math.max(Math.abs(mean), 1) ? 'flat' : change > 0 ? 'up' : 'down';
  return {
    samples: n,
    first: ys[0]!,
    last: ys[n - 1]!,
    min: Math.min(...ys),
    max: Math.max(...ys),
    mean: round(mean, 4),
    slopePerHour: round(slope * 3_600_000, 4),
    direction,
  };
}

export function round(value: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
