// Send outcomes per master as the dispatchers report them: counters since start and the latencies
// of the most recent sends (a fixed ring, so percentiles cost the same at any volume).
import { type Percentiles, percentiles } from './figures.ts';

export type SendOutcome = 'sent' | 'failed' | 'unknown';

export interface SendCounts {
  sent: number;
  failed: number;
  unknown: number;
}

class Ring {
  readonly #values: Float64Array;
  #size = 0;
  #next = 0;

  constructor(capacity: number) {
    this.#values = new Float64Array(capacity);
  }

  push(value: number): void {
    this.#values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#values.length;
    if (this.#size < this.#values.length) this.#size++;
  }

  values(): Float64Array {
    return this.#values.subarray(0, this.#size);
  }
}

interface PerMaster extends SendCounts {
  latencies: Ring;
}

export class SendStats {
  readonly #capacity: number;
  readonly #masters = new Map<string, PerMaster>();
  readonly #fleet: Ring;
  readonly total: SendCounts = { sent: 0, failed: 0, unknown: 0 };

  /** `capacity`: latencies kept per master (and for the fleet) for the percentiles. */
  constructor(capacity = 1_024) {
    this.#capacity = capacity;
    this.#fleet = new Ring(capacity);
  }

  #of(phone: string): PerMaster {
    let m = this.#masters.get(phone);
    if (!m) {
      m = { sent: 0, failed: 0, unknown: 0, latencies: new Ring(this.#capacity) };
      this.#masters.set(phone, m);
    }
    return m;
  }

  record(phone: string, outcome: SendOutcome, latencyMs?: number): void {
    const m = this.#of(phone);
    m[outcome]++;
    this.total[outcome]++;
    if (outcome === 'sent' && latencyMs !== undefined) {
      m.latencies.push(latencyMs);
      this.#fleet.push(latencyMs);
    }
  }

  counts(phone: string): SendCounts {
    const m = this.#masters.get(phone);
    return m ? { sent: m.sent, failed: m.failed, unknown: m.unknown } : { sent: 0, failed: 0, unknown: 0 };
  }

  /** Latency percentiles of the master's recent successful sends (ms), or null before the first. */
  latency(phone?: string): Percentiles | null {
    if (phone === undefined) return percentiles(this.#fleet.values());
    const m = this.#masters.get(phone);
    return m ? percentiles(m.latencies.values()) : null;
  }
}
