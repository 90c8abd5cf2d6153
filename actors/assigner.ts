// Hands waiting messages to masters through the balancer, one pass at a time, one transaction per
// pass. Work is per recipient (each keeps its own FIFO in the outbox), so one recipient's backlog
// never holds up another's: a recipient whose sticky master cannot take more now is parked on that
// master and skipped until it has room, and the pass rotates between the other recipients. A pass
// costs what it assigns plus the masters it checks, not the length of the queue.
import type { Logger } from '../src/logger.ts';
import type { Outbox } from '../src/outbox.ts';
import type { MessageRecord } from '../src/store/schema.ts';
import type { Clock } from './clock.ts';

export interface Router {
  /** A master for a message to `to`, or null; `avoid`: a master not to use this time. */
  select(to: string, avoid?: string): string | null;
  /** The routable master `to` sticks to when it cannot take a message now (the recipient waits for it). */
  waitingFor(to: string): string | undefined;
  /** The master could take a message now. */
  eligible(phone: string): boolean;
  isRoutable(phone: string): boolean;
  /** Some master other than `phone` is routable. */
  othersRoutable(phone: string): boolean;
  /** Some master could take a message now. */
  anyEligible(): boolean;
}

export interface AssignerDeps {
  outbox: Outbox;
  router: Router;
  clock: Clock;
  log: Logger;
  /** How often to look again while messages wait (rate-limit tokens refill meanwhile). */
  retryMs?: number;
}

export class Assigner {
  /** Recipients to look at, in turn. */
  readonly #ready = new Set<string>();
  /** master -> recipients waiting for that master to have room. */
  readonly #parked = new Map<string, Set<string>>();
  /** Recipients whose message avoids the only master that could take it now: look again later. */
  readonly #deferred = new Set<string>();
  #timer: unknown;
  #scheduled = false;
  #stopped = false;
  #paused = false;

  constructor(private readonly deps: AssignerDeps) {
    this.rebuild();
  }

  /** Every recipient with waiting messages is looked at again (start-up, after a store reload). */
  rebuild(): void {
    this.#ready.clear();
    this.#parked.clear();
    this.#deferred.clear();
    for (const to of this.deps.outbox.queuedRecipients()) this.#ready.add(to);
    this.schedule();
  }

  /** A recipient has a new waiting message. */
  queued(to: string): void {
    if (this.#deferred.has(to)) return;
    for (const set of this.#parked.values()) if (set.has(to)) return;
    this.#ready.add(to);
    this.schedule();
  }

  /** Stops assigning (the store cannot write) or starts again. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (!paused) this.schedule();
  }

  /** Runs a pass soon (many triggers in one tick make one pass). */
  schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.run();
    });
  }

  run(): void {
    if (this.#stopped || this.#paused) return;
    const { outbox, router } = this.deps;
    for (const [master, recipients] of this.#parked) {
      if (router.eligible(master) || !router.isRoutable(master)) {
        for (const to of recipients) this.#ready.add(to);
        this.#parked.delete(master);
      }
    }
    if (this.#ready.size > 0 && router.anyEligible()) {
      void outbox
        .batch(() => this.#pass())
        .catch((err: unknown) =>
          this.deps.log.debug({ err }, 'assignments not committed; the store reloads'),
        );
    }
    if (this.#ready.size > 0 || this.#parked.size > 0 || this.#deferred.size > 0) this.#retryLater();
  }

  /** Every turn either assigns a message or takes a recipient out of the ready line, so it ends. */
  #pass(): void {
    const { outbox, router } = this.deps;
    for (;;) {
      const to = this.#ready.values().next().value;
      if (to === undefined) break;
      const head = outbox.head(to);
      if (!head) {
        this.#ready.delete(to);
        continue;
      }
      let avoid = lastAttempt(head);
      // A resend prefers another master; only when no other master is routable at all does it
      // go back to the one it avoids (a one-master fleet must still send).
      if (avoid !== undefined && !router.othersRoutable(avoid)) avoid = undefined;
      const phone = router.select(to, avoid);
      if (phone !== null) {
        outbox.assign(head.id, phone).catch(() => undefined); // the pass's batch reports a failed write
        // Round robin between recipients: this one goes to the back of the line.
        this.#ready.delete(to);
        if (outbox.head(to)) this.#ready.add(to);
        continue;
      }
      this.#ready.delete(to);
      const sticky = router.waitingFor(to);
      if (sticky !== undefined) setOf(this.#parked, sticky).add(to);
      else if (avoid !== undefined) this.#deferred.add(to);
      else {
        this.#ready.add(to); // nobody can take anything now: keep its turn for the next pass
        break;
      }
    }
  }

  #retryLater(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#timer = this.deps.clock.setTimeout(() => {
      this.#timer = undefined;
      for (const to of this.#deferred) this.#ready.add(to);
      this.#deferred.clear();
      this.run();
    }, this.deps.retryMs ?? 250);
  }

  /** Recipients waiting, by where they wait (for status pages and tests). */
  get waiting(): { ready: number; parked: number; deferred: number } {
    let parked = 0;
    for (const s of this.#parked.values()) parked += s.size;
    return { ready: this.#ready.size, parked, deferred: this.#deferred.size };
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.deps.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * The master a message last went out on (or was about to), if it is being sent again: a resend
 * avoids it. Read from the message's own history, so it survives a restart.
 */
function lastAttempt(m: MessageRecord): string | undefined {
  if (m.attempts === 0) return undefined;
  for (let i = m.history.length - 1; i >= 0; i--) {
    const h = m.history[i]!;
    if (h.status === 'sending') return h.master;
  }
  return undefined;
}

function setOf(map: Map<string, Set<string>>, key: string): Set<string> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}
