// Per-master dispatch: while its master is routable, sends the messages it owns through its
// transport, at most `maxInFlight` at a time, each under a timeout. A send is marked `sending`
// durably before it goes out, so a crash can only ever make it `unknown`, never silently twice.
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
  /** Told of every finished send (the balancer's in-flight and latency figures come from here). */
  onOutcome: (messageId: string, outcome: SendOutcome, latencyMs?: number) => void;
  sendTimeoutMs: number;
  maxInFlight: number;
  log: Logger;
}

export class Dispatcher {
  #routable = false;
  #inFlight = 0;
  #stopped = false;
  #kicking = false;
  readonly #aborts = new Set<AbortController>();
  readonly #unsubscribeReceipts: () => void;
  /** Sends started and finished, for the performance report. */
  readonly stats = { sent: 0, failed: 0, unknown: 0, totalLatencyMs: 0 };

  constructor(private readonly deps: DispatcherDeps) {
    this.#unsubscribeReceipts = deps.transport.onReceipt((r) => {
      deps.outbox.markReceipt(r.messageId, r.status);
      deps.outbox.store
        .commit()
        .catch((err: unknown) => deps.log.error({ err }, 'commit of a receipt failed'));
    });
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  setRoutable(routable: boolean): void {
    this.#routable = routable;
    if (routable) this.kick();
  }

  /** Starts sends while there is room and work. Safe to call any time. */
  kick(): void {
    if (this.#kicking || this.#stopped || !this.#routable) return;
    this.#kicking = true;
    try {
      const room = this.deps.maxInFlight - this.#inFlight;
      if (room <= 0) return;
      const batch = this.deps.outbox.nextToSend(this.deps.phone, room);
      const started: MessageRecord[] = [];
      for (const m of batch) {
        if (this.deps.outbox.markSending(m.id, this.deps.phone, m.epoch)) started.push(m);
      }
      if (started.length === 0) return;
      this.#inFlight += started.length;
      const epochs = started.map((m) => m.epoch);
      this.deps.outbox.store.commit().then(
        () => {
          for (const [i, m] of started.entries()) void this.#send(m, epochs[i] ?? m.epoch);
        },
        (err: unknown) => {
          this.deps.log.error({ err }, 'could not record sends as started; they wait');
          for (const [i, m] of started.entries()) {
            this.deps.outbox.markUnknown(
              m.id,
              this.deps.phone,
              epochs[i] ?? m.epoch,
              'store write failed before the send',
            );
          }
          this.#inFlight -= started.length;
        },
      );
    } finally {
      this.#kicking = false;
    }
  }

  async #send(m: MessageRecord, epoch: number): Promise<void> {
    const { phone, outbox, transport, clock, master, onOutcome } = this.deps;
    const started = clock.now();
    const abort = new AbortController();
    this.#aborts.add(abort);
    try {
      await withTimeout(
        clock,
        this.deps.sendTimeoutMs,
        'send',
        (signal) => transport.send({ messageId: m.id, to: m.to, text: m.text }, signal),
        abort.signal,
      );
      const latencyMs = clock.now() - started;
      outbox.markSent(m.id, phone, epoch);
      onOutcome(m.id, 'sent', latencyMs);
      this.stats.sent++;
      this.stats.totalLatencyMs += latencyMs;
      master.send({ type: 'send.succeeded', latencyMs });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const ambiguous =
        err instanceof TimeoutError || (err instanceof SendError && err.ambiguous) || this.#stopped;
      if (ambiguous) {
        outbox.markUnknown(m.id, phone, epoch, `${reason}: no ack, sent again; may arrive twice`);
        this.stats.unknown++;
        onOutcome(m.id, 'unknown');
      } else {
        outbox.markSendFailed(m.id, phone, epoch, reason, err instanceof SendError && err.recipientFault);
        this.stats.failed++;
        onOutcome(m.id, 'failed');
      }
      // A recipient's fault says nothing about the master's health.
      if (!this.#stopped && !(err instanceof SendError && err.recipientFault)) {
        master.send({
          type: 'send.failed',
          reason,
          ...(err instanceof SendError && err.code !== undefined ? { code: err.code } : {}),
        });
      }
    } finally {
      this.#aborts.delete(abort);
      this.#inFlight--;
    }
    try {
      await outbox.store.commit();
    } catch (err) {
      this.deps.log.error({ err, messageId: m.id }, 'commit of a send outcome failed');
    }
    this.kick();
  }

  /** Stops taking work; sends still in flight get `grace` ms to finish, then are marked unknown. */
  async stop(graceMs = 0): Promise<void> {
    this.#stopped = true;
    this.#unsubscribeReceipts();
    if (this.#inFlight > 0 && graceMs > 0) {
      const until = Date.now() + graceMs;
      while (this.#inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    }
    for (const a of this.#aborts) a.abort(new Error('service stopping'));
  }
}
