// Contact affinity: which master last wrote to a recipient. The balancer reads and writes it through
// this interface; the durable store (issue 3) implements it and moves entries on failover.
export interface AffinityStore {
  get(to: string): string | undefined;
  set(to: string, phone: string): void;
}

/** Why a recipient's messages moved to another master (the chat turns cold on the new number). */
export type AffinityMoveReason = 'unroutable' | 'removed' | 'rate-limited' | 'avoided';

export interface AffinityMove {
  recipient: string;
  from: string;
  to: string;
  reason: AffinityMoveReason;
  at: number;
}

/** The default store: in memory, lost on restart. */
export class MemoryAffinityStore implements AffinityStore {
  readonly #map = new Map<string, string>();

  get(to: string): string | undefined {
    return this.#map.get(to);
  }

  set(to: string, phone: string): void {
    this.#map.set(to, phone);
  }

  get size(): number {
    return this.#map.size;
  }
}
