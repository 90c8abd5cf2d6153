// Simulated WhatsApp accounts: in-process, timed on the shared Clock, with injectable faults.
// The network records every send it accepted, which is how tests count duplicates and losses.
import { appendFileSync } from 'node:fs';
import { seededRandom } from '../src/routing/random.ts';
import { type Clock, realClock } from './clock.ts';
import {
  type ConnectionEvent,
  type OutgoingMessage,
  type Receipt,
  SendError,
  type Transport,
} from './transport.ts';

export const FAULT_KINDS = ['disconnect', 'hang', 'slow', 'flaky', 'logout', 'no-ack', 'heal'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind;
  /** slow: the latency of every probe and send. */
  latencyMs?: number;
  /** flaky: the share of probes and sends that fail, 0..1. */
  errorRate?: number;
}

export interface SimSend {
  messageId: string;
  master: string;
  to: string;
  at: number;
}

export interface SimNetworkOptions {
  clock?: Clock;
  /** Latency of a healthy account's round trip. */
  latencyMs?: number;
  /** Seed for the flaky fault's coin, so a failing run replays. */
  seed?: number;
  /** Also append every accepted send to this JSONL file (it outlives the process: crash tests count from it). */
  sendLog?: string;
}

/** Close code the sim uses for a retryable drop (Baileys' connectionClosed). */
export const SIM_RETRYABLE_CLOSE = 428;
/** Close code the sim uses for a logout (Baileys' loggedOut). */
export const SIM_LOGOUT_CLOSE = 401;

export class SimNetwork {
  readonly clock: Clock;
  readonly latencyMs: number;
  readonly sends: SimSend[] = [];
  /** Called as each send reaches the network (tests check who sent it, at that instant). */
  onSend: ((send: SimSend) => void) | undefined;
  /** Recipients the simulated WhatsApp does not know: sends to them fail for good (404). */
  readonly notOnWhatsApp = new Set<string>();
  readonly #accounts = new Map<string, SimTransport>();
  #rng: () => number;
  readonly #sendLog: string | undefined;

  constructor(options: SimNetworkOptions = {}) {
    this.#sendLog = options.sendLog;
    this.clock = options.clock ?? realClock;
    this.latencyMs = options.latencyMs ?? 20;
    this.#rng = seededRandom(options.seed ?? 1);
  }

  account(phone: string): SimTransport {
    let account = this.#accounts.get(phone);
    if (!account) {
      account = new SimTransport(phone, this);
      this.#accounts.set(phone, account);
    }
    return account;
  }

  has(phone: string): boolean {
    return this.#accounts.has(phone);
  }

  inject(phone: string, fault: Fault): void {
    const account = this.#accounts.get(phone);
    if (!account) throw new Error(`no simulated master ${phone}`);
    account.inject(fault);
  }

  /** @internal */
  coin(errorRate: number): boolean {
    return this.#rng() < errorRate;
  }

  /** @internal */
  recordSend(master: string, message: OutgoingMessage): void {
    const send = { messageId: message.messageId, master, to: message.to, at: this.clock.now() };
    this.sends.push(send);
    this.onSend?.(send);
    if (this.#sendLog) appendFileSync(this.#sendLog, `${JSON.stringify(send)}\n`);
  }
}

type Mode = 'ok' | 'disconnect' | 'hang' | 'logout';

interface Pending {
  reject: (err: Error) => void;
}

export class SimTransport implements Transport {
  readonly kind = 'sim' as const;
  #connected = false;
  #mode: Mode = 'ok';
  #slowMs: number | null = null;
  #errorRate = 0;
  /** Probes answer, sends are taken by the network, acknowledgements never come. */
  #noAck = false;
  readonly #listeners = new Set<(event: ConnectionEvent) => void>();
  readonly #receiptListeners = new Set<(receipt: Receipt) => void>();
  readonly #pending = new Set<Pending>();

  constructor(
    readonly phone: string,
    private readonly network: SimNetwork,
  ) {}

  get connected(): boolean {
    return this.#connected;
  }

  /** The faults in force, for status pages. */
  get faults(): { mode: Mode; slowMs: number | null; errorRate: number; noAck: boolean } {
    return { mode: this.#mode, slowMs: this.#slowMs, errorRate: this.#errorRate, noAck: this.#noAck };
  }

  inject(fault: Fault): void {
    switch (fault.kind) {
      case 'disconnect':
        this.#mode = 'disconnect';
        this.#drop(SIM_RETRYABLE_CLOSE, 'connection lost (simulated outage)');
        break;
      case 'logout':
        this.#mode = 'logout';
        this.#drop(SIM_LOGOUT_CLOSE, 'logged out (simulated)');
        break;
      case 'hang':
        this.#mode = 'hang';
        break;
      case 'slow':
        this.#slowMs = fault.latencyMs ?? 3_000;
        break;
      case 'flaky':
        this.#errorRate = Math.min(1, Math.max(0, fault.errorRate ?? 0.5));
        break;
      case 'no-ack':
        this.#noAck = true;
        break;
      case 'heal':
        this.#mode = 'ok';
        this.#slowMs = null;
        this.#errorRate = 0;
        this.#noAck = false;
        break;
    }
  }

  connect(signal: AbortSignal): Promise<void> {
    return this.#op(signal, () => {
      if (this.#mode === 'logout') {
        this.#emit({ type: 'close', code: SIM_LOGOUT_CLOSE, reason: 'logged out (simulated)' });
        throw new SendError('logged out', SIM_LOGOUT_CLOSE);
      }
      if (this.#mode === 'disconnect') throw new Error('connection refused (simulated outage)');
      this.#connected = true;
    });
  }

  probe(signal: AbortSignal): Promise<void> {
    return this.#op(signal, () => {
      this.#assertUsable();
      if (this.#errorRate > 0 && this.network.coin(this.#errorRate)) throw new Error('probe failed (flaky)');
    });
  }

  send(message: OutgoingMessage, signal: AbortSignal): Promise<void> {
    if (this.#connected && this.#mode === 'ok' && this.network.notOnWhatsApp.has(message.to)) {
      return this.#op(signal, () => {
        throw new SendError(`${message.to} is not on WhatsApp`, 404, false, true);
      });
    }
    if (this.#connected && this.#mode === 'ok') {
      // Written to the socket: the network has it, whatever happens to the ack.
      if (!(this.#errorRate > 0 && this.network.coin(this.#errorRate))) {
        this.network.recordSend(this.phone, message);
        if (this.#noAck) return this.#op(signal, () => undefined, true, true);
        const acked = this.#op(signal, () => this.#assertUsable(), true);
        // The recipient's phone confirms a moment after the server's ack.
        acked.then(
          () => this.network.clock.setTimeout(() => this.#receipt(message.messageId), this.network.latencyMs),
          () => undefined,
        );
        return acked;
      }
      return this.#op(signal, () => {
        throw new SendError('send failed (flaky)', 500);
      });
    }
    return this.#op(signal, () => this.#assertUsable());
  }

  onConnection(listener: (event: ConnectionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onReceipt(listener: (receipt: Receipt) => void): () => void {
    this.#receiptListeners.add(listener);
    return () => this.#receiptListeners.delete(listener);
  }

  #receipt(messageId: string): void {
    for (const listener of this.#receiptListeners) listener({ messageId, status: 'delivered' });
  }

  async close(): Promise<void> {
    this.#connected = false;
    for (const p of this.#pending) p.reject(new Error('transport closed'));
    this.#pending.clear();
  }

  #assertUsable(): void {
    if (this.#mode === 'logout') throw new SendError('logged out', SIM_LOGOUT_CLOSE);
    if (!this.#connected) throw new Error('not connected');
  }

  #drop(code: number, reason: string): void {
    const wasConnected = this.#connected;
    this.#connected = false;
    for (const p of this.#pending) p.reject(new SendError(reason, code, true));
    this.#pending.clear();
    if (wasConnected) this.#emit({ type: 'close', code, reason });
  }

  #emit(event: ConnectionEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  /**
   * Runs `finish` after the account's latency, unless the account hangs (then only the caller's
   * signal ends it). `accepted`: the network already has the message, so a failure now is ambiguous.
   */
  #op(signal: AbortSignal, finish: () => void, accepted = false, silent = false): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(abortReason(signal));
      const clock = this.network.clock;
      let timer: unknown;
      const pending: Pending = {
        reject: (err) => {
          clock.clearTimeout(timer);
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const onAbort = () => {
        this.#pending.delete(pending);
        pending.reject(abortReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.add(pending);
      if (this.#mode === 'hang' || silent) return; // silent: only the caller's timeout ends it
      timer = clock.setTimeout(() => {
        if (this.#mode === 'hang') return; // went silent mid-flight: the ack never comes
        this.#pending.delete(pending);
        signal.removeEventListener('abort', onAbort);
        try {
          finish();
          resolve();
        } catch (err) {
          if (!accepted) return reject(err);
          const code = err instanceof SendError ? err.code : undefined;
          reject(new SendError(err instanceof Error ? err.message : String(err), code, true));
        }
      }, this.#slowMs ?? this.network.latencyMs);
    });
  }
}

function abortReason(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
