// The durable outbox: every accepted message and its life (queued -> assigned -> sending -> sent ->
// delivered | read, or failed, or unknown), kept in the store with a history per message. Callers
// learn of acceptance only once the commit holding the message is on disk.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../actors/clock.ts';
import { SwitchboardError } from './errors.ts';
import type { HistoryLog } from './store/history.ts';
import { MESSAGE_STATUSES, type MessageRecord, type MessageStatus, type StoreData } from './store/schema.ts';
import type { Store } from './store/store.ts';

/** Statuses in which a master owns a message that still has to be sent. */
const PENDING_ON_MASTER: ReadonlySet<MessageStatus> = new Set(['assigned', 'unknown']);
/** Statuses after which nothing more happens to a message but receipts. */
const FINISHED: ReadonlySet<MessageStatus> = new Set(['delivered', 'read', 'failed']);
/** How long an idempotency key is remembered (the message's own life comes on top: see prune). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A sent message without a receipt for this long leaves the hot document all the same. */
const STALE_SENT_MS = 24 * 60 * 60 * 1000;
/** Archived messages kept in memory for GET /api/messages/:id before the history file is read. */
const RECENT_ARCHIVE = 10_000;

export type MessageCounts = Record<MessageStatus, number>;

export interface AcceptResult {
  id: string;
  status: MessageStatus;
  /** False when the idempotency key was seen before: the earlier message is returned. */
  created: boolean;
}

export type OutboxChange =
  | { type: 'accepted'; id: string }
  | { type: 'released'; master: string }
  | { type: 'requeued'; id: string }
  | { type: 'transferred'; from: string; to: string | null };

export interface TransferResult {
  messages: number;
  contacts: number;
  /** Message ids that were moved. */
  ids: string[];
}

export class Outbox {
  /** Unowned messages waiting for a master, oldest first (a Set keeps insertion order). */
  readonly #queue = new Set<string>();
  /** Per master: the ids it owns that are not sent yet (assigned, sending, unknown). */
  readonly #owned = new Map<string, Set<string>>();
  readonly #listeners = new Set<(change: OutboxChange) => void>();
  readonly #recent = new Map<string, MessageRecord>();

  constructor(
    readonly store: Store,
    readonly clock: Clock,
    readonly history?: HistoryLog,
  ) {
    this.#reindex();
  }

  get data(): StoreData {
    return this.store.data;
  }

  onChange(listener: (change: OutboxChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(change: OutboxChange): void {
    for (const l of this.#listeners) l(change);
  }

  #reindex(): void {
    this.#queue.clear();
    this.#owned.clear();
    const all = Object.values(this.data.messages).sort((a, b) => a.createdAt - b.createdAt);
    for (const m of all) this.#index(m);
  }

  #index(m: MessageRecord): void {
    if (m.status === 'queued') this.#queue.add(m.id);
    else if (m.master && (PENDING_ON_MASTER.has(m.status) || m.status === 'sending'))
      this.#own(m.master).add(m.id);
  }

  #unindex(m: MessageRecord): void {
    this.#queue.delete(m.id);
    if (m.master) this.#owned.get(m.master)?.delete(m.id);
  }

  #own(master: string): Set<string> {
    let set = this.#owned.get(master);
    if (!set) {
      set = new Set();
      this.#owned.set(master, set);
    }
    return set;
  }

  #set(m: MessageRecord, status: MessageStatus, master: string | null, note?: string): void {
    this.#unindex(m);
    m.status = status;
    m.master = master;
    m.history.push({
      at: this.clock.now(),
      status,
      ...(master ? { master } : {}),
      ...(note ? { note } : {}),
    });
    this.#index(m);
  }

  /**
   * After a restart: a send that was in flight when the process died may or may not have reached
   * WhatsApp. It becomes `unknown` and is sent again (at least once), its history saying so.
   */
  recoverAfterRestart(): number {
    let n = 0;
    for (const m of Object.values(this.data.messages)) {
      if (m.status === 'sending') {
        this.#set(m, 'unknown', m.master, 'in flight when the service stopped: sent again, may arrive twice');
        n++;
      }
    }
    return n;
  }

  /**
   * After a restart with another config: messages owned by a master that is no longer configured
   * go back to the queue (and that master's affinity entries are dropped). The caller commits.
   */
  requeueOrphans(known: ReadonlySet<string>): number {
    const orphans = new Set<string>();
    for (const m of Object.values(this.data.messages))
      if (m.master && !known.has(m.master)) orphans.add(m.master);
    for (const owner of Object.values(this.data.affinity)) if (!known.has(owner)) orphans.add(owner);
    let moved = 0;
    for (const master of orphans) {
      moved += transferInDocument(
        this.data,
        master,
        null,
        `${master} is no longer configured`,
        this.clock.now(),
      ).messages;
    }
    if (orphans.size > 0) this.#reindex();
    return moved;
  }

  /** Accepts a message; resolves once it is durable. The same idempotency key returns the first message. */
  async accept(input: { to: string; text: string; idempotencyKey?: string }): Promise<AcceptResult> {
    const key = input.idempotencyKey;
    if (key !== undefined) {
      const existing = this.data.idempotency[key]?.id;
      if (existing) {
        const m = this.get(existing);
        await this.store.commit(); // the first request may still be on its way to disk
        return { id: existing, status: m?.status ?? 'sent', created: false };
      }
    }
    const id = randomUUID();
    const now = this.clock.now();
    const m: MessageRecord = {
      id,
      to: input.to,
      text: input.text,
      status: 'queued',
      master: null,
      epoch: 0,
      attempts: 0,
      createdAt: now,
      history: [{ at: now, status: 'queued' }],
      ...(key === undefined ? {} : { idempotencyKey: key }),
    };
    this.data.messages[id] = m;
    if (key !== undefined) this.data.idempotency[key] = { id, at: now };
    this.#housekeep(now);
    this.#index(m);
    await this.store.commit();
    this.#emit({ type: 'accepted', id });
    return { id, status: m.status, created: true };
  }

  #housekeptAt = 0;

  /**
   * Keeps the hot document (rewritten by every commit) from growing for ever, at most once a
   * minute: a `sent` message with no receipt for a day goes to the history file, and an
   * idempotency key is forgotten a day after it was used once its message has left the document.
   */
  #housekeep(now: number): void {
    if (now - this.#housekeptAt < 60_000) return;
    this.#housekeptAt = now;
    for (const m of Object.values(this.data.messages)) {
      if (m.status === 'sent' && now - (m.sentAt ?? m.createdAt) > STALE_SENT_MS) this.#archive(m);
    }
    for (const [key, entry] of Object.entries(this.data.idempotency)) {
      if (now - entry.at > IDEMPOTENCY_TTL_MS && !this.data.messages[entry.id])
        delete this.data.idempotency[key];
    }
  }

  get(id: string): MessageRecord | undefined {
    return this.data.messages[id] ?? this.#recent.get(id) ?? this.history?.find(id);
  }

  /** Queued messages, oldest first. Live view: do not mutate the outbox while iterating. */
  queued(): IterableIterator<string> {
    return this.#queue.values();
  }

  get queueLength(): number {
    return this.#queue.size;
  }

  /** How many not-yet-sent messages a master holds (assigned, sending, unknown). */
  ownedCount(master: string): number {
    return this.#owned.get(master)?.size ?? 0;
  }

  /** Gives a queued message to a master under a new epoch. The caller commits. */
  assign(id: string, master: string, note?: string): MessageRecord {
    const m = this.#mustGet(id);
    m.epoch = ++this.data.epoch;
    this.#set(m, 'assigned', master, note);
    return m;
  }

  /** The messages a master should send next (assigned or unknown, oldest first), at most `limit`. */
  nextToSend(master: string, limit: number): MessageRecord[] {
    const out: MessageRecord[] = [];
    const owned = this.#owned.get(master);
    if (!owned) return out;
    for (const id of owned) {
      if (out.length >= limit) break;
      const m = this.data.messages[id];
      if (m && PENDING_ON_MASTER.has(m.status)) out.push(m);
    }
    return out;
  }

  /** Marks a send as started under `epoch`; false if the message moved meanwhile. The caller commits. */
  markSending(id: string, master: string, epoch: number): boolean {
    const m = this.data.messages[id];
    if (!m || m.master !== master || m.epoch !== epoch || !PENDING_ON_MASTER.has(m.status)) return false;
    m.attempts++;
    this.#set(m, 'sending', master);
    return true;
  }

  /**
   * WhatsApp acknowledged the send made under `epoch`. When the message moved to another master
   * meanwhile (failover), the ack still counts: if the new owner has not started sending it, it is
   * done; otherwise its history records the possible duplicate.
   */
  markSent(id: string, master: string, epoch: number): void {
    const m = this.data.messages[id];
    if (!m) return;
    const now = this.clock.now();
    if (m.master === master && m.epoch === epoch && m.status === 'sending') {
      m.sentAt = now;
      this.#set(m, 'sent', master);
    } else if (m.status === 'sent' || FINISHED.has(m.status)) {
      m.history.push({
        at: now,
        status: m.status,
        master,
        note: `also acknowledged on ${master}: sent twice`,
      });
    } else if (m.status === 'sending') {
      m.history.push({
        at: now,
        status: 'unknown',
        master,
        note: `acknowledged on ${master} after it moved; ${m.master} is sending it too: may arrive twice`,
      });
    } else {
      m.sentAt = now;
      this.#set(
        m,
        'sent',
        master,
        `acknowledged on ${master} after the message moved to ${m.master ?? 'the queue'}`,
      );
    }
    this.#emit({ type: 'released', master });
  }

  /**
   * The outcome of a send is not known (socket died, timeout without an ack): the message may have
   * reached WhatsApp. Policy: it stays with its owner as `unknown` and is sent again (at least once).
   */
  markUnknown(id: string, master: string, epoch: number, note: string): void {
    const m = this.data.messages[id];
    if (!m || m.master !== master || m.epoch !== epoch || m.status !== 'sending') return;
    this.#set(m, 'unknown', master, note);
    this.#emit({ type: 'released', master });
  }

  /**
   * A send was refused for sure: nothing reached WhatsApp. When the refusal is about the recipient
   * (not on WhatsApp, invalid), the message is `failed` with the reason. Otherwise the master was
   * at fault: the message goes back to the queue for any master to take; the master's own health
   * (passive outlier detection) stops traffic to it if it keeps refusing.
   */
  markSendFailed(id: string, master: string, epoch: number, reason: string, recipientFault = false): void {
    const m = this.data.messages[id];
    if (!m || m.master !== master || m.epoch !== epoch || m.status !== 'sending') return;
    if (recipientFault) {
      this.#set(m, 'failed', master, reason);
      this.#archive(m);
    } else {
      this.#set(m, 'queued', null, `send on ${master} failed: ${reason}; queued again`);
      this.#emit({ type: 'requeued', id });
    }
    this.#emit({ type: 'released', master });
  }

  /** A receipt from WhatsApp. Finished messages leave the hot document for the history file. */
  markReceipt(id: string, status: 'delivered' | 'read'): void {
    const m = this.data.messages[id];
    if (!m || (m.status !== 'sent' && m.status !== 'delivered')) return;
    if (m.status === status) return;
    this.#set(m, status, m.master);
    this.#archive(m);
  }

  #archive(m: MessageRecord): void {
    this.history?.append([m]);
    delete this.data.messages[m.id];
    this.#unindex(m);
    this.#recent.set(m.id, m);
    if (this.#recent.size > RECENT_ARCHIVE) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
  }

  /** Moves every unsent message of `from` to `to` (or back to the queue when `to` is null) in one commit. */
  async transfer(
    from: string,
    to: string | null,
    note: string,
    /** Runs in the same commit with the transfer's result: the audit record goes here. */
    alongside?: (data: StoreData, result: TransferResult) => void,
  ): Promise<TransferResult> {
    const now = this.clock.now();
    const result = await this.store.transaction((data) => {
      const r = transferInDocument(data, from, to, note, now);
      alongside?.(data, r);
      return r;
    });
    // The live document changed underneath the indexes: rebuild the affected entries.
    for (const id of result.ids) {
      const m = this.data.messages[id];
      if (!m) continue;
      this.#queue.delete(id);
      this.#owned.get(from)?.delete(id);
      this.#index(m);
    }
    this.#emit({ type: 'transferred', from, to });
    return result;
  }

  /** Messages, newest first, filtered; and the counts per status over the hot document. */
  list(filter: { status?: MessageStatus; master?: string; limit?: number } = {}): {
    messages: MessageRecord[];
    counts: MessageCounts;
  } {
    const counts = Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as MessageCounts;
    const limit = filter.limit ?? 100;
    const all = Object.values(this.data.messages);
    for (const m of all) counts[m.status]++;
    for (const m of this.#recent.values()) counts[m.status]++;
    const source = [...all, ...this.#recent.values()].sort((a, b) => b.createdAt - a.createdAt);
    const messages: MessageRecord[] = [];
    for (const m of source) {
      if (messages.length >= limit) break;
      if (filter.status && m.status !== filter.status) continue;
      if (filter.master && m.master !== filter.master) continue;
      messages.push(m);
    }
    return { messages, counts };
  }

  #mustGet(id: string): MessageRecord {
    const m = this.data.messages[id];
    if (!m) throw new SwitchboardError('SB_ERR_UNKNOWN_MESSAGE', `no message ${id}`, 404);
    return m;
  }
}

/**
 * The failover transfer as a function of the document, so the store can run it on a copy first:
 * assigned and unknown messages move as they are, a message mid-send moves as `unknown` (it may
 * have gone out), affinity entries follow. With no backup the messages go back to the queue.
 */
export function transferInDocument(
  data: StoreData,
  from: string,
  to: string | null,
  note: string,
  now: number,
): TransferResult {
  const ids: string[] = [];
  for (const m of Object.values(data.messages)) {
    if (m.master !== from) continue;
    if (m.status !== 'assigned' && m.status !== 'unknown' && m.status !== 'sending') continue;
    const wasSending = m.status === 'sending';
    const status: MessageStatus =
      to === null ? 'queued' : wasSending || m.status === 'unknown' ? 'unknown' : 'assigned';
    m.status = status;
    m.master = to;
    m.epoch = ++data.epoch;
    m.history.push({
      at: now,
      status,
      ...(to ? { master: to } : {}),
      note: wasSending ? `${note}; was mid-send on ${from}: may arrive twice` : note,
    });
    ids.push(m.id);
  }
  let contacts = 0;
  for (const [recipient, master] of Object.entries(data.affinity)) {
    if (master !== from) continue;
    contacts++;
    if (to) data.affinity[recipient] = to;
    else delete data.affinity[recipient];
  }
  return { messages: ids.length, contacts, ids };
}
