// The webhook delivery worker: sends queued events that are on disk, at most `concurrency` requests in
// flight per endpoint, one event at a time per order key (a message's events arrive in order), signs
// them (Standard Webhooks), retries 5xx / 408 / 429 / timeouts / network errors with exponential
// backoff and jitter, parks an event after `maxAttempts` or at once on any other answer. Each outcome is
// a store commit; nothing here is awaited by the dispatch path.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { Webhook } from 'standardwebhooks';
import { type Clock, TimeoutError, withTimeout } from '../../actors/clock.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Store } from '../store/store.ts';
import type { WebhookBody, WebhookDelivery, WebhookEndpoint } from './events.ts';
import type { Webhooks } from './webhooks.ts';

export type Fetch = (url: string, init: RequestInit) => Promise<Response>;

export interface DeliveryOptions {
  webhooks: Webhooks;
  store: Store;
  clock: Clock;
  log: Logger;
  settings: Config['webhookDelivery'];
  /** The jitter's source (default Math.random). */
  random?: () => number;
  /** Default the global fetch. */
  fetch?: Fetch;
  /** The text of a message, for endpoints with includeText (null once retention removed it). */
  readText?: (messageId: string) => Promise<string | null | undefined>;
  /** The monitor's registry: webhook metrics appear on /metrics. */
  registry?: Registry;
}

type Outcome =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; error: string; retryAfterMs?: number }
  | { kind: 'refused'; error: string }
  | { kind: 'aborted' };

/** 408 and 429 are worth retrying; so is any 5xx. Every other non-2xx is the receiver's final answer. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Backoff before attempt `attempts + 1`: base * 2^(attempts-1), capped, then "equal jitter" (half fixed, half random). */
export function backoffMs(attempts: number, base: number, max: number, random: () => number): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, attempts - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

function retryAfterMs(res: Response): number | undefined {
  const value = res.headers.get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

function describe(err: unknown): string {
  if (err instanceof TimeoutError) return err.message;
  const e = err as { message?: string; cause?: { code?: string; message?: string } };
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message ?? 'error'} (${cause})` : String(e?.message ?? err);
}

export class DeliveryWorker {
  readonly #w: Webhooks;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #settings: Config['webhookDelivery'];
  readonly #random: () => number;
  readonly #fetch: Fetch;
  readonly #readText: (id: string) => Promise<string | null | undefined>;
  readonly #signers = new Map<string, Webhook>();
  readonly #running = new Map<string, { endpoint: string; abort: AbortController; done: Promise<void> }>();
  readonly #inFlight = new Map<string, number>();
  readonly #cleanups: (() => void)[] = [];
  /** Endpoints whose last attempt failed: one warning when they start failing, one line when they answer again. */
  readonly #failing = new Set<string>();
  #timer: unknown;
  #timerAt = Number.POSITIVE_INFINITY;
  #scheduled = false;
  #stopped = true;
  readonly metrics: {
    attempts: Counter<'webhook' | 'outcome'>;
    parked: Counter<'webhook'>;
    latency: Histogram<'webhook'>;
  };

  constructor(options: DeliveryOptions) {
    this.#w = options.webhooks;
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#settings = options.settings;
    this.#random = options.random ?? Math.random;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
    this.#readText = options.readText ?? (async () => undefined);
    const registers = options.registry ? [options.registry] : [];
    const w = this.#w;
    this.metrics = {
      attempts: new Counter({
        name: 'switchboard_webhook_attempts_total',
        help: 'Webhook requests by outcome: delivered (2xx), failed (retryable: 5xx, 408, 429, timeout, network), refused (any other answer).',
        labelNames: ['webhook', 'outcome'],
        registers,
      }),
      parked: new Counter({
        name: 'switchboard_webhook_parked_total',
        help: 'Webhook events parked (retry limit reached or refused by the receiver).',
        labelNames: ['webhook'],
        registers,
      }),
      latency: new Histogram({
        name: 'switchboard_webhook_request_seconds',
        help: 'Time from sending a webhook request to its answer (or failure).',
        labelNames: ['webhook'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
        registers,
      }),
    };
    new Gauge({
      name: 'switchboard_webhook_queue',
      help: 'Webhook events waiting, by endpoint and state (pending: to be sent; parked: given up, see GET /api/webhooks/parked).',
      labelNames: ['webhook', 'state'],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, { pending: number; parked: number }>();
        for (const e of w.endpoints()) counts.set(e.id, { pending: 0, parked: 0 });
        for (const d of options.store.map('webhookDeliveries').values()) {
          const c = counts.get(d.endpoint) ?? { pending: 0, parked: 0 };
          c[d.state]++;
          counts.set(d.endpoint, c);
        }
        for (const [webhook, c] of counts) {
          this.set({ webhook, state: 'pending' }, c.pending);
          this.set({ webhook, state: 'parked' }, c.parked);
        }
      },
    });
  }

  start(): void {
    this.#stopped = false;
    this.#cleanups.push(this.#w.onDurable(() => this.schedule()));
    this.#cleanups.push(
      this.#store.onEvent((event) => {
        if (event.type === 'recovered') {
          this.#w.reloaded();
          this.#w.writeUnwritten();
        } else if (event.type === 'unavailable') this.#w.reloaded();
      }),
    );
    this.#parkOrphans();
    this.schedule();
  }

  /** Aborts requests in flight (their events stay queued) and waits for them to settle. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const c of this.#cleanups.splice(0)) c();
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    const running = [...this.#running.values()];
    for (const r of running) r.abort.abort();
    await Promise.allSettled(running.map((r) => r.done));
  }

  /** Requests in flight to one endpoint (or all). */
  inFlight(endpoint?: string): number {
    if (endpoint !== undefined) return this.#inFlight.get(endpoint) ?? 0;
    return this.#running.size;
  }

  /** Runs a pass soon (coalesced). */
  schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pass();
    });
  }

  /** Events queued for an endpoint that no longer exists (removed from the config) are parked, visibly. */
  #parkOrphans(): void {
    const orphans = [...this.#store.map('webhookDeliveries').values()].filter(
      (d) => d.state === 'pending' && !this.#w.endpoint(d.endpoint),
    );
    if (orphans.length === 0 || !this.#store.available) return;
    const now = this.#clock.now();
    this.#store
      .transaction((tx) => {
        for (const d of orphans)
          tx.put('webhookDeliveries', d.id, {
            ...d,
            state: 'parked',
            parkedAt: now,
            lastError: `webhook ${d.endpoint} is no longer configured`,
          });
      })
      .catch(() => undefined);
    this.#log.warn({ events: orphans.length }, 'webhook events of endpoints no longer configured are parked');
  }

  /**
   * One walk over the queue in recording order (the store's map keeps insertion order, and delivery
   * keys are only ever added in sequence: replay and checkpoints keep it), stopping once every
   * endpoint is at its bound, so a long backlog costs little per pass while requests are in flight.
   */
  #pass(): void {
    if (this.#stopped || !this.#store.available) return;
    const now = this.#clock.now();
    const free = new Map<string, number>();
    const busy = new Map<string, Set<string>>();
    let open = 0;
    for (const e of this.#w.endpoints()) {
      const n = this.#settings.concurrency - (this.#inFlight.get(e.id) ?? 0);
      free.set(e.id, n);
      busy.set(e.id, new Set());
      if (n > 0) open++;
    }
    let soonest = Number.POSITIVE_INFINITY;
    for (const d of this.#store.map('webhookDeliveries').values()) {
      if (open === 0) break;
      if (d.state !== 'pending') continue;
      const left = free.get(d.endpoint);
      if (left === undefined || left <= 0) continue;
      // One event per order key at a time, the oldest first: a later event waits for the earlier one.
      const keys = busy.get(d.endpoint)!;
      if (keys.has(d.orderKey)) continue;
      keys.add(d.orderKey);
      if (this.#running.has(d.id) || this.#w.undurable.has(d.id)) continue;
      if (d.nextAt > now) {
        soonest = Math.min(soonest, d.nextAt);
        continue;
      }
      const endpoint = this.#w.endpoint(d.endpoint)!;
      this.#start(d, endpoint);
      free.set(d.endpoint, left - 1);
      if (left - 1 === 0) open--;
    }
    this.#arm(soonest);
  }

  #arm(at: number): void {
    if (at === Number.POSITIVE_INFINITY || this.#stopped) return;
    if (this.#timer !== undefined && this.#timerAt <= at) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.schedule();
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  #start(d: WebhookDelivery, endpoint: WebhookEndpoint): void {
    const abort = new AbortController();
    this.#inFlight.set(endpoint.id, (this.#inFlight.get(endpoint.id) ?? 0) + 1);
    const done = this.#attempt(d, endpoint, abort.signal)
      .then((outcome) => this.#settle(d, endpoint, outcome))
      .catch((err: unknown) =>
        this.#log.error({ err, delivery: d.id }, 'webhook delivery bookkeeping failed'),
      )
      .finally(() => {
        this.#running.delete(d.id);
        this.#inFlight.set(endpoint.id, (this.#inFlight.get(endpoint.id) ?? 1) - 1);
        this.schedule();
      });
    this.#running.set(d.id, { endpoint: endpoint.id, abort, done });
  }

  async body(d: WebhookDelivery, endpoint: WebhookEndpoint): Promise<WebhookBody> {
    const data: Record<string, unknown> = { ...d.event.data };
    if (endpoint.includeText && d.event.type.startsWith('message.') && typeof data.messageId === 'string') {
      data.text = (await this.#readText(data.messageId)) ?? null;
    }
    return { id: d.event.id, type: d.event.type, timestamp: new Date(d.event.at).toISOString(), data };
  }

  #signer(endpoint: WebhookEndpoint): Webhook | undefined {
    if (!endpoint.secret) return undefined;
    let s = this.#signers.get(endpoint.secret);
    if (!s) {
      s = new Webhook(endpoint.secret);
      this.#signers.set(endpoint.secret, s);
    }
    return s;
  }

  async #attempt(d: WebhookDelivery, endpoint: WebhookEndpoint, signal: AbortSignal): Promise<Outcome> {
    const payload = JSON.stringify(await this.body(d, endpoint));
    const sentAt = new Date(this.#clock.now());
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'switchboard-webhooks',
      'webhook-id': d.event.id,
      'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
    };
    const signer = this.#signer(endpoint);
    if (signer) headers['webhook-signature'] = signer.sign(d.event.id, sentAt, payload);
    const started = performance.now();
    const observe = () =>
      this.metrics.latency.observe({ webhook: endpoint.id }, (performance.now() - started) / 1000);
    try {
      const res = await withTimeout(
        this.#clock,
        this.#settings.timeoutMs,
        `webhook ${endpoint.id}`,
        async (s) => {
          const r = await this.#fetch(endpoint.url, {
            method: 'POST',
            headers,
            body: payload,
            signal: s,
            redirect: 'manual',
          });
          await r.arrayBuffer().catch(() => undefined); // the connection is reused only once the body is read
          return r;
        },
        signal,
      );
      observe();
      if (res.status >= 200 && res.status < 300) return { kind: 'delivered', status: res.status };
      const error = `HTTP ${res.status}`;
      if (isRetryableStatus(res.status)) {
        const after = retryAfterMs(res);
        return { kind: 'retry', error, ...(after === undefined ? {} : { retryAfterMs: after }) };
      }
      return { kind: 'refused', error };
    } catch (err) {
      if (signal.aborted) return { kind: 'aborted' };
      observe();
      return { kind: 'retry', error: describe(err) };
    }
  }

  #settle(d: WebhookDelivery, endpoint: WebhookEndpoint, outcome: Outcome): void {
    if (outcome.kind === 'aborted') return;
    const webhook = endpoint.id;
    const log = this.#log.child({ webhook, event: d.event.id, type: d.event.type });
    const attempts = d.attempts + 1;
    this.metrics.attempts.inc({
      webhook,
      outcome: outcome.kind === 'delivered' ? 'delivered' : outcome.kind === 'retry' ? 'failed' : 'refused',
    });
    const now = this.#clock.now();
    let next: WebhookDelivery | null = null;
    if (outcome.kind === 'delivered') {
      log.debug({ attempts, status: outcome.status }, 'webhook delivered');
      if (this.#failing.delete(webhook)) log.info({ url: endpoint.url }, 'webhook receiver answers again');
    } else if (outcome.kind === 'refused' || attempts >= this.#settings.maxAttempts) {
      next = { ...d, state: 'parked', attempts, parkedAt: now, lastError: outcome.error };
      this.metrics.parked.inc({ webhook });
      log.error(
        { attempts, error: outcome.error },
        outcome.kind === 'refused'
          ? 'webhook refused by the receiver: event parked'
          : 'webhook retry limit reached: event parked',
      );
    } else {
      const { backoffBaseMs, backoffMaxMs } = this.#settings;
      const wait = Math.min(
        backoffMaxMs,
        Math.max(outcome.retryAfterMs ?? 0, backoffMs(attempts, backoffBaseMs, backoffMaxMs, this.#random)),
      );
      next = { ...d, attempts, nextAt: now + wait, lastError: outcome.error };
      // A dead receiver fails every event: one warning, then each retry at debug.
      const first = !this.#failing.has(webhook);
      this.#failing.add(webhook);
      log[first ? 'warn' : 'debug'](
        { attempts, error: outcome.error, retryInMs: wait, url: endpoint.url },
        'webhook receiver failing; events are retried with backoff',
      );
    }
    // The change applies to memory at once, so the slot and the message's next event are free now; its
    // fsync is not waited for (a crash before it means one more delivery: at least once). A failed
    // write leaves the event queued as it was: it goes out again once the store is back.
    void this.#store
      .transaction((tx) => {
        if (!tx.get('webhookDeliveries', d.id)) return; // its endpoint was removed meanwhile
        if (next) tx.put('webhookDeliveries', d.id, next);
        else tx.del('webhookDeliveries', d.id);
      })
      .catch((err: unknown) => log.debug({ err }, 'webhook outcome not written: the store cannot write'));
  }
}
