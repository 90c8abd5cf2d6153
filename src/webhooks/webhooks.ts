// Webhooks (README "Webhooks"): the endpoints (the config's and those added over the API, kept in the
// store) and the recording of events into the durable queue. An event is recorded inside the
// transaction of the change it reports, so both commit in one journal record or neither does; the
// delivery worker (delivery.ts) sends only what is on disk.
import { createHash } from 'node:crypto';
import type { Clock } from '../../actors/clock.ts';
import type { WebhookEndpointConfig } from '../config.ts';
import { SwitchboardError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { MessageRecord, MessageStatus } from '../store/schema.ts';
import type { Store, Transaction } from '../store/store.ts';
import {
  type WebhookDelivery,
  type WebhookEndpoint,
  type WebhookEvent,
  type WebhookEventType,
  wantsEvent,
} from './events.ts';

export interface WebhooksOptions {
  store: Store;
  clock: Clock;
  log: Logger;
  /** The config's endpoints (not stored: the file is their source). */
  configured: readonly WebhookEndpointConfig[];
  /** Event and endpoint ids (default crypto.randomUUID; a seeded one in replayable runs). */
  newId?: () => string;
}

/** Delivery keys sort by recording order within an endpoint. */
function deliveryKey(seq: number, endpoint: string): string {
  return `d${seq}:${endpoint}`;
}

/** A config endpoint's id: stable across restarts while its URL stays the same. */
export function configEndpointId(url: string): string {
  return `cfg_${createHash('sha256').update(url).digest('hex').slice(0, 12)}`;
}

const MESSAGE_EVENTS: Partial<Record<MessageStatus, WebhookEventType>> = {
  sent: 'message.sent',
  delivered: 'message.delivered',
  read: 'message.read',
  failed: 'message.failed',
  unknown: 'message.unknown',
};

interface Unwritten {
  type: WebhookEventType;
  at: number;
  data: Record<string, unknown>;
  orderKey: string;
}

export class Webhooks {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #newId: () => string;
  readonly #configured: readonly WebhookEndpoint[];
  /** Deliveries recorded by this process whose commit is not known to be on disk yet. */
  readonly undurable = new Set<string>();
  #fresh: string[] = [];
  #settling = false;
  /** Events of no other change (master.*) whose own write failed: written when the store is back. */
  #unwritten: Unwritten[] = [];
  readonly #listeners = new Set<() => void>();

  constructor(options: WebhooksOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#newId = options.newId ?? (() => crypto.randomUUID());
    this.#configured = options.configured.map((c) => ({
      id: configEndpointId(c.url),
      url: c.url,
      events: c.events,
      ...(c.secret === undefined ? {} : { secret: c.secret }),
      includeText: c.includeText,
      createdAt: 0,
    }));
  }

  /** Every endpoint: the config's, then those added over the API (oldest first). */
  endpoints(): WebhookEndpoint[] {
    const added = [...this.#store.map('webhooks').values()].sort((a, b) => a.createdAt - b.createdAt);
    return [...this.#configured, ...added];
  }

  endpoint(id: string): WebhookEndpoint | undefined {
    return this.#configured.find((e) => e.id === id) ?? this.#store.get('webhooks', id);
  }

  isConfigured(id: string): boolean {
    return this.#configured.some((e) => e.id === id);
  }

  /** Called once recorded deliveries are on disk (the worker starts them). */
  onDurable(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Records `type` for every endpoint that wants it, inside `tx`: it commits with the change or not at
   * all. Returns how many deliveries were queued.
   */
  record(
    tx: Transaction,
    type: WebhookEventType,
    data: Record<string, unknown>,
    orderKey: string,
    at = this.#clock.now(),
  ): number {
    // The common case costs nothing on the hot path: no endpoint, no work.
    if (this.#configured.length === 0 && this.#store.map('webhooks').size === 0) return 0;
    const targets = this.endpoints().filter((e) => wantsEvent(e, type));
    if (targets.length === 0) return 0;
    const event: WebhookEvent = { id: `evt_${this.#newId()}`, type, at, data };
    let seq = tx.get('meta', 'webhook') ?? 0;
    for (const e of targets) {
      seq++;
      const id = deliveryKey(seq, e.id);
      const delivery: WebhookDelivery = {
        id,
        seq,
        endpoint: e.id,
        orderKey,
        event,
        state: 'pending',
        attempts: 0,
        nextAt: at,
      };
      tx.put('webhookDeliveries', id, delivery);
      this.undurable.add(id);
      this.#fresh.push(id);
    }
    tx.put('meta', 'webhook', seq);
    this.#settle();
    return targets.length;
  }

  /** A message's status change, from Outbox.onTransition (inside its transaction). */
  recordMessage(tx: Transaction, m: MessageRecord, previous: MessageStatus | null): void {
    const type = MESSAGE_EVENTS[m.status];
    if (!type || previous === m.status) return;
    const last = m.history.at(-1);
    this.record(
      tx,
      type,
      {
        messageId: m.id,
        status: m.status,
        previousStatus: previous,
        master: m.master,
        attempts: m.attempts,
        ...(last?.note && (m.status === 'failed' || m.status === 'unknown') ? { reason: last.note } : {}),
      },
      `message:${m.id}`,
      last?.at,
    );
  }

  /**
   * An event that reports no stored change (a master's state): its own transaction; when the store
   * cannot write, it is kept and written once the store is back.
   */
  recordAlone(type: WebhookEventType, data: Record<string, unknown>, orderKey: string): void {
    const item: Unwritten = { type, at: this.#clock.now(), data, orderKey };
    if (!this.endpoints().some((e) => wantsEvent(e, type))) return;
    if (!this.#store.available) {
      this.#unwritten.push(item);
      return;
    }
    this.#store
      .transaction((tx) => this.record(tx, type, data, orderKey, item.at))
      .catch((err: unknown) => {
        this.#unwritten.push(item);
        this.#log.warn({ err, type }, 'webhook event not written yet: the store cannot write');
      });
  }

  /** After the store recovered: the events whose write failed. */
  writeUnwritten(): void {
    const items = this.#unwritten;
    this.#unwritten = [];
    if (items.length === 0) return;
    this.#store
      .transaction((tx) => {
        for (const i of items) this.record(tx, i.type, i.data, i.orderKey, i.at);
      })
      .catch(() => {
        this.#unwritten.unshift(...items);
      });
  }

  /** The store reloaded from disk: whatever memory holds now is durable. */
  reloaded(): void {
    this.undurable.clear();
    this.#fresh = [];
    for (const l of this.#listeners) l();
  }

  #settle(): void {
    if (this.#settling) return;
    this.#settling = true;
    // After the transaction that recorded them returns: wait for its group's fsync.
    queueMicrotask(() => {
      this.#settling = false;
      const keys = this.#fresh;
      this.#fresh = [];
      const done = () => {
        for (const k of keys) this.undurable.delete(k);
        for (const l of this.#listeners) l();
      };
      // Rejected: the group was rolled back (its deliveries are gone from memory) or a later one failed.
      this.#store.flushed().then(done, done);
    });
  }

  // --- the API's operations ---------------------------------------------------------------------

  async add(input: WebhookEndpointConfig): Promise<WebhookEndpoint> {
    const clash = this.endpoints().find((e) => e.url === input.url);
    if (clash)
      throw new SwitchboardError(
        'SB_ERR_VALIDATION',
        `url: webhook ${clash.id} already has this URL: remove it first`,
        409,
      );
    const endpoint: WebhookEndpoint = {
      id: `wh_${this.#newId().replace(/-/g, '').slice(0, 16)}`,
      url: input.url,
      events: input.events,
      ...(input.secret === undefined ? {} : { secret: input.secret }),
      includeText: input.includeText,
      createdAt: this.#clock.now(),
    };
    await this.#store.transaction((tx) => tx.put('webhooks', endpoint.id, endpoint));
    this.#log.info({ webhook: endpoint.id, url: endpoint.url, events: endpoint.events }, 'webhook added');
    return endpoint;
  }

  /** Removes an endpoint added over the API, with its queued and parked deliveries (one commit). */
  async remove(id: string): Promise<number> {
    if (this.isConfigured(id))
      throw new SwitchboardError(
        'SB_ERR_VALIDATION',
        `webhook ${id} is defined in the config file: remove it there and restart`,
        409,
      );
    if (!this.#store.get('webhooks', id))
      throw new SwitchboardError('SB_ERR_UNKNOWN_WEBHOOK', `no webhook ${id}`, 404);
    const dropped = await this.#store.transaction((tx) => {
      tx.del('webhooks', id);
      let n = 0;
      for (const d of [...this.#store.map('webhookDeliveries').values()]) {
        if (d.endpoint !== id) continue;
        tx.del('webhookDeliveries', d.id);
        n++;
      }
      return n;
    });
    this.#log.info({ webhook: id, dropped }, 'webhook removed with its queued events');
    return dropped;
  }

  /** Deliveries of one state, oldest first. */
  deliveries(state: WebhookDelivery['state'], endpoint?: string): WebhookDelivery[] {
    const out: WebhookDelivery[] = [];
    for (const d of this.#store.map('webhookDeliveries').values())
      if (d.state === state && (endpoint === undefined || d.endpoint === endpoint)) out.push(d);
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** A parked delivery goes back to the queue with its attempts reset. */
  async retry(id: string): Promise<WebhookDelivery> {
    const d = this.#parked(id);
    if (!this.endpoint(d.endpoint))
      throw new SwitchboardError('SB_ERR_VALIDATION', `webhook ${d.endpoint} no longer exists`, 409);
    const next: WebhookDelivery = { ...d, state: 'pending', attempts: 0, nextAt: this.#clock.now() };
    delete (next as { parkedAt?: number }).parkedAt;
    await this.#store.transaction((tx) => tx.put('webhookDeliveries', id, next));
    for (const l of this.#listeners) l();
    return next;
  }

  /** A parked delivery is dropped (the operator gave up on it). */
  async discard(id: string): Promise<void> {
    this.#parked(id);
    await this.#store.transaction((tx) => tx.del('webhookDeliveries', id));
  }

  #parked(id: string): WebhookDelivery {
    const d = this.#store.get('webhookDeliveries', id);
    if (d?.state !== 'parked' || !d)
      throw new SwitchboardError('SB_ERR_UNKNOWN_WEBHOOK', `no parked delivery ${id}`, 404);
    return d;
  }
}
