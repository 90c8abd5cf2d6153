// Hands queued messages to masters, oldest first, through the balancer; one commit per pass.
// Remembers which assignments the balancer made in this process, so each is released exactly once.
import type { Logger } from '../src/logger.ts';
import type { Outbox } from '../src/outbox.ts';
import type { Clock } from './clock.ts';

export interface Router {
  /** `avoid`: a master not to use this time (the one that just refused this message). */
  select(to: string, avoid?: string): string | null;
  release(phone: string, outcome: 'sent' | 'failed' | 'moved', latencyMs?: number): void;
  /** True when some master could take a message now (cheap: avoids scanning a queue nobody can take). */
  anyRoutable(): boolean;
}

export interface AssignerDeps {
  outbox: Outbox;
  router: Router;
  clock: Clock;
  log: Logger;
  /** Told which masters got new work, so their dispatchers can start. */
  onAssigned: (masters: ReadonlySet<string>) => void;
  /** How often to look again while messages wait (rate-limit tokens refill meanwhile). */
  retryMs?: number;
  /** At most this many refusals per pass, so a long queue nobody can take is not scanned each time. */
  maxMissesPerPass?: number;
}

export class Assigner {
  readonly #selected = new Map<string, string>();
  /** Messages a master refused: their next assignment avoids that master once. */
  readonly #avoid = new Map<string, string>();
  #timer: unknown;
  #scheduled = false;
  #stopped = false;

  constructor(private readonly deps: AssignerDeps) {}

  /** Runs a pass soon (coalesces many triggers in one tick into one pass). */
  schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.run();
    });
  }

  run(): void {
    if (this.#stopped) return;
    const { outbox, router } = this.deps;
    if (outbox.queueLength === 0) return;
    const touched = new Set<string>();
    if (router.anyRoutable()) {
      let misses = 0;
      const maxMisses = this.deps.maxMissesPerPass ?? 1_000;
      for (const id of outbox.queued()) {
        const m = outbox.data.messages[id];
        if (!m) continue;
        const avoid = this.#avoid.get(id);
        const phone = router.select(m.to, avoid);
        if (phone === null) {
          if (++misses >= maxMisses) break;
          continue;
        }
        this.#avoid.delete(id);
        outbox.assign(id, phone);
        this.#selected.set(id, phone);
        touched.add(phone);
      }
    }
    if (touched.size > 0) {
      outbox.store.commit().then(
        () => this.deps.onAssigned(touched),
        (err: unknown) => this.deps.log.error({ err }, 'commit of assignments failed; dispatch waits'),
      );
    }
    if (outbox.queueLength > 0) this.#retryLater();
  }

  #retryLater(): void {
    if (this.#timer !== undefined) return;
    this.#timer = this.deps.clock.setTimeout(() => {
      this.#timer = undefined;
      this.run();
    }, this.deps.retryMs ?? 250);
  }

  /** A send finished: the balancer hears of it once per assignment it made. */
  settle(id: string, outcome: 'sent' | 'failed' | 'unknown', latencyMs?: number): void {
    if (outcome === 'unknown') return; // still owned by the master: it is sent again
    const phone = this.#selected.get(id);
    if (phone === undefined) return;
    this.#selected.delete(id);
    if (outcome === 'failed') this.#avoid.set(id, phone);
    this.deps.router.release(phone, outcome, latencyMs);
    this.schedule(); // the master has room again
  }

  /** A failover moved these messages away from `from`. */
  moved(ids: readonly string[]): void {
    for (const id of ids) {
      const phone = this.#selected.get(id);
      if (phone === undefined) continue;
      this.#selected.delete(id);
      this.deps.router.release(phone, 'moved');
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.deps.clock.clearTimeout(this.#timer);
  }
}
