// Per-master dispatch: while its master is routable, sends the messages it owns through its
// transport, at most `maxInFlight` at a time (counted from the outbox: messages `sending` on this
// master), each under a timeout. A send is marked `sending` durably first, and goes out only if
// the message is still exactly that record afterwards: a failover or a reload that took it wins,
// so a crash can make a send ambiguous (`unknown`) but never a silent duplicate.
import type { AnyActorRef } from 'xstate';
import type { Logger } from '../src/logger.ts';
import type { Outbox } from '../src/outbox.ts';
import type { MessageRecord } from '../src/store/schema.ts';
import { type Clock, TimeoutError, withTimeout } from './clock.ts';
import { SendError, type Transport } from './transport.ts';

export type SendOutcome = 'sent' | 'failed' | 'unknown';

export interface DispatcherDeps {
  phone: string;
  outbox: Outbox;
  transport: Transport;
  clock: Clock;
  /** The master actor: send outcomes are health signals (passive outlier detection). */
  master: AnyActorRef;
  /** Told of every finished send (the balancer's latency figures come from here). */
  onOutcome: (message: MessageRecord, outcome: SendOutcome, latencyMs?: number) => void;
  sendTimeoutMs: number;
  maxInFlight: number;
  log: Logger;
}

export class Dispatcher {
  #routable = false;
  #paused = false;
  #stopped = false;
  #kicking = false;
  #again = false;
  readonly #aborts = new Set<AbortController>();
  readonly #unsubscribeReceipts: () => void;
  /** Sends finished, for the performance report. */
  readonly stats = { sent: 0, failed: 0, unknown: 0, totalLatencyMs: 0 };

  constructor(private readonly deps: DispatcherDeps) {
    this.#unsubscribeReceipts = deps.transport.onReceipt((r) => {
      deps.outbox
        .markReceipt(r.messageId, r.status)
        .catch((err: unknown) => deps.log.debug({ err }, 'receipt not recorded: the store cannot write'));
    });
  }

  /** Sends on the wire now (what the outbox says is `sending` here). */
  get inFlight(): number {
    return this.deps.outbox.sendingCount(this.deps.phone);
  }

  setRoutable(routable: boolean): void {
    this.#routable = routable;
    if (routable) this.kick();
  }

  /** No new sends while the store cannot write; sends on the wire finish. */
  setPaused(paused: boolean): void {
    this.#paused = paused;
    if (!paused) this.kick();
  }

  /** Starts sends while there is room and work. Safe to call any time, also from inside a batch. */
  kick(): void {
    if (this.#stopped || this.#paused || !this.#routable) return;
    if (this.#kicking) {
      this.#again = true;
      return;
    }
    this.#kicking = true;
    try {
      do {
        this.#again = false;
        this.#startBatch();
      } while (this.#again);
    } finally {
      this.#kicking = false;
    }
  }

  #startBatch(): void {
    const { outbox, phone } = this.deps;
    const room = this.deps.maxInFlight - outbox.sendingCount(phone);
    if (room <= 0) return;
    const batch = outbox.nextToSend(phone, room);
    if (batch.length === 0) return;
    const { started, durable } = outbox.markSending(phone, batch);
    durable.then(
      () => {
        for (const m of started) {
          // Still exactly the record we made durable? A failover or a reload may have taken it.
          if (outbox.isCurrent(m)) void this.#send(m);
        }
      },
      () => {
        // The store could not write: it rolled back and the system rebuilds; nothing went out.
      },
    );
  }

  async #send(m: MessageRecord): Promise<void> {
    const { phone, outbox, transport, clock, master, onOutcome } = this.deps;
    const started = clock.now();
    const abort = new AbortController();
    this.#aborts.add(abort);
    let done: Promise<unknown>;
    try {
      await withTimeout(
        clock,
        this.deps.sendTimeoutMs,
        'send',
        (signal) => transport.send({ messageId: m.id, to: m.to, text: m.text ?? '' }, signal),
        abort.signal,
      );
      const latencyMs = clock.now() - started;
      done = outbox.markSent(m.id, phone, m.epoch);
      this.stats.sent++;
      this.stats.totalLatencyMs += latencyMs;
      onOutcome(m, 'sent', latencyMs);
      master.send({ type: 'send.succeeded', latencyMs });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const ambiguous =
        err instanceof TimeoutError || (err instanceof SendError && err.ambiguous) || this.#stopped;
      const recipientFault = err instanceof SendError && err.recipientFault;
      if (ambiguous) {
        done = outbox.markUnknown(
          m.id,
          phone,
          m.epoch,
          `${reason}: no acknowledgement; sent again, may arrive twice`,
        );
        this.stats.unknown++;
        onOutcome(m, 'unknown');
      } else {
        done = outbox.markSendFailed(m.id, phone, m.epoch, reason, recipientFault);
        this.stats.failed++;
        onOutcome(m, 'failed');
      }
      // A recipient's fault says nothing about the master; an unacknowledged send does.
      if (!this.#stopped && !recipientFault) {
        master.send({
          type: 'send.failed',
          reason: ambiguous ? `no acknowledgement (${reason})` : reason,
          ...(err instanceof SendError && err.code !== undefined ? { code: err.code } : {}),
        });
      }
    } finally {
      this.#aborts.delete(abort);
    }
    await done.catch((err: unknown) =>
      this.deps.log.debug({ err, messageId: m.id }, 'send outcome not recorded'),
    );
    this.kick();
  }

  /** Stops taking work; sends still in flight get `graceMs` to finish, then are aborted (unknown). */
  async stop(graceMs = 0): Promise<void> {
    this.#stopped = true;
    this.#unsubscribeReceipts();
    if (this.#aborts.size > 0 && graceMs > 0) {
      const until = Date.now() + graceMs;
      while (this.#aborts.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    }
    for (const a of this.#aborts) a.abort(new Error('service stopping'));
  }

  /** Drops everything without writing (a simulated crash). */
  halt(): void {
    this.#stopped = true;
    this.#unsubscribeReceipts();
    for (const a of this.#aborts) a.abort(new Error('halted'));
  }
}
