// The durable outbox: every accepted message and its life (queued -> assigned -> sending -> sent ->
// delivered | read, or failed, or unknown), as records in the store with a history each. Callers
// learn of acceptance only once the journal record holding the message is on disk. The indexes
// here (a queue per recipient, what each master owns) are derived from the store's state and
// rebuilt from it whenever the store reloads, so counts can never drift from what the disk says.
import { createHash, randomUUID } from 'node:crypto';
import type { Clock } from '../actors/clock.ts';
import { SwitchboardError } from './errors.ts';
import {
  type FailoverRecord,
  type HistoryEntry,
  MESSAGE_STATUSES,
  type MessageRecord,
  type MessageStatus,
  withoutText,
} from './store/schema.ts';
import type { Store, Transaction } from './store/store.ts';

/** How long an idempotency key is remembered (longer while its message is still live). */
export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;
/** A sent message without a receipt for this long leaves the live state all the same. */
const STALE_SENT_MS = 24 * 60 * 60 * 1000;

export type MessageCounts = Record<MessageStatus, number>;

export interface AcceptResult {
  id: string;
  status: MessageStatus;
  /** False when the idempotency key was seen before: the earlier message is returned. */
  created: boolean;
}

export type OutboxChange =
  /** A recipient has a message waiting for a master. */
  | { type: 'queued'; to: string }
  /** What a master owns (assigned, sending, unknown) changed; `count` is the new total. */
  | { type: 'owned'; master: string; count: number }
  /** A message changed status (after the change is staged; durable with its transaction). */
  | { type: 'status'; message: MessageRecord; previous: MessageStatus | null }
  /** The indexes were rebuilt from the store (after a reload). */
  | { type: 'rebuilt' };

export interface TransferResult {
  messages: number;
  contacts: number;
  ids: string[];
}

export interface OutboxOptions {
  /** A message goes on the wire at most this many times (default 3). */
  maxAttempts?: number;
  /** Recently finished messages kept in memory for listings (default 10,000). */
  recentLimit?: number;
  /** Message ids (default crypto.randomUUID; the simulation passes a seeded one so runs replay). */
  newId?: () => string;
}

/** FIFO of message ids, oldest first, with insertion in createdAt order for the rare older one. */
class IdQueue {
  ids: string[] = [];
  head = 0;

  get size(): number {
    return this.ids.length - this.head;
  }

  peek(): string | undefined {
    return this.ids[this.head];
  }

  insert(id: string, createdAt: number, createdAtOf: (id: string) => number): void {
    let i = this.ids.length;
    while (i > this.head && createdAtOf(this.ids[i - 1]!) > createdAt) i--;
    if (i === this.ids.length) this.ids.push(id);
    else this.ids.splice(i, 0, id);
  }

  remove(id: string): void {
    if (this.ids[this.head] === id) this.head++;
    else {
      const i = this.ids.indexOf(id, this.head);
      if (i >= 0) this.ids.splice(i, 1);
    }
    if (this.head > 64 && this.head * 2 > this.ids.length) {
      this.ids = this.ids.slice(this.head);
      this.head = 0;
    }
  }
}

/** Waiting for any master: queued, or unknown and not owned (a resend that prefers another master). */
function isQueued(m: MessageRecord): boolean {
  return m.master === null && (m.status === 'queued' || m.status === 'unknown');
}

/** Owned and to be sent by its master. */
function isPending(m: MessageRecord): boolean {
  return m.master !== null && (m.status === 'assigned' || m.status === 'unknown');
}

const FINISHED: ReadonlySet<MessageStatus> = new Set(['delivered', 'read', 'failed']);

export function requestHash(to: string, text: string): string {
  return createHash('sha256').update(to).update('\0').update(text).digest('base64url');
}

export class Outbox {
  readonly store: Store;
  readonly clock: Clock;
  readonly maxAttempts: number;
  readonly #recentLimit: number;
  readonly #queues = new Map<string, IdQueue>();
  #queued = 0;
  readonly #pending = new Map<string, Set<string>>();
  readonly #sending = new Map<string, Set<string>>();
  /** Live `sent` ids, by the order they were sent (stale ones leave after a day). */
  readonly #sent = new Set<string>();
  readonly #counts = zeroCounts();
  /** Recently finished messages, oldest first: listings show them without reading history files. */
  readonly #recent = new Map<string, MessageRecord>();
  readonly #listeners = new Set<(change: OutboxChange) => void>();
  readonly #hooks = new Set<
    (tx: Transaction, message: MessageRecord, previous: MessageStatus | null) => void
  >();
  #events: OutboxChange[] = [];
  #depth = 0;
  #broken = false;
  #housekeptAt = 0;
  readonly #newId: () => string;

  constructor(store: Store, clock: Clock, options: OutboxOptions = {}) {
    this.store = store;
    this.clock = clock;
    this.maxAttempts = options.maxAttempts ?? 3;
    this.#recentLimit = options.recentLimit ?? 10_000;
    this.#newId = options.newId ?? randomUUID;
    this.rebuild();
    // The indexes follow the store: after a failed write it rolled back, after a recovery it reloaded.
    store.onEvent((event) => {
      if (event.type === 'unavailable' || event.type === 'recovered') this.rebuild();
    });
  }

  onChange(listener: (change: OutboxChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Rebuilds every index from the store's state (start-up, and after the store reloaded). */
  rebuild(): void {
    this.#queues.clear();
    this.#queued = 0;
    this.#pending.clear();
    this.#sending.clear();
    this.#sent.clear();
    Object.assign(this.#counts, zeroCounts());
    const all = [...this.store.map('messages').values()].sort((a, b) => a.createdAt - b.createdAt);
    for (const m of all) this.#index(m);
    const sent = all.filter((m) => m.status === 'sent').sort((a, b) => (a.sentAt ?? 0) - (b.sentAt ?? 0));
    this.#sent.clear();
    for (const m of sent) this.#sent.add(m.id);
    this.#broken = false;
    this.#events = [];
    this.#emit({ type: 'rebuilt' });
  }

  // --- reading --------------------------------------------------------------------------------

  /** A live (unfinished) message. */
  get(id: string): MessageRecord | undefined {
    return this.store.get('messages', id);
  }

  /** Any message: live, recently finished, or from the history files. */
  async find(id: string): Promise<MessageRecord | undefined> {
    return this.get(id) ?? this.#recent.get(id) ?? (await this.store.archived(id));
  }

  get queueLength(): number {
    return this.#queued;
  }

  /** Recipients with messages waiting for a master. */
  queuedRecipients(): IterableIterator<string> {
    return this.#queues.keys();
  }

  /** The oldest message waiting for a master for `to`. */
  head(to: string): MessageRecord | undefined {
    const id = this.#queues.get(to)?.peek();
    return id === undefined ? undefined : this.get(id);
  }

  /** Unsent messages a master holds (assigned, sending, unknown). */
  ownedCount(master: string): number {
    return (this.#pending.get(master)?.size ?? 0) + (this.#sending.get(master)?.size ?? 0);
  }

  sendingCount(master: string): number {
    return this.#sending.get(master)?.size ?? 0;
  }

  /** Masters that own anything. */
  owners(): string[] {
    const out = new Set<string>();
    for (const [m, s] of this.#pending) if (s.size > 0) out.add(m);
    for (const [m, s] of this.#sending) if (s.size > 0) out.add(m);
    return [...out];
  }

  /** The messages a master should send next (assigned or unknown, in the order it got them). */
  nextToSend(master: string, limit: number): MessageRecord[] {
    const out: MessageRecord[] = [];
    for (const id of this.#pending.get(master) ?? []) {
      if (out.length >= limit) break;
      const m = this.get(id);
      if (m) out.push(m);
    }
    return out;
  }

  counts(): MessageCounts {
    return { ...this.#counts };
  }

  // --- writing --------------------------------------------------------------------------------

  /**
   * Several changes as one transaction (one journal record); events go out when the outermost
   * batch ends, so listeners never run inside a half-made change.
   */
  batch<T>(fn: (tx: Transaction) => T): Promise<T> {
    this.#depth++;
    let result: Promise<T>;
    try {
      result = this.store.transaction((tx) => {
        try {
          return fn(tx);
        } catch (err) {
          this.#broken = true;
          throw err;
        }
      });
    } finally {
      this.#depth--;
    }
    if (this.#depth === 0) {
      if (this.#broken) this.rebuild(); // the store undid the transaction: so do the indexes
      const events = this.#events;
      this.#events = [];
      for (const e of events) this.#emit(e);
    }
    return result;
  }

  /** Accepts a message; resolves once it is durable. The same idempotency key returns the first message. */
  accept(input: { to: string; text: string; idempotencyKey?: string }): Promise<AcceptResult> {
    const key = input.idempotencyKey;
    const hash = key === undefined ? '' : requestHash(input.to, input.text);
    if (key !== undefined) {
      const seen = this.store.get('idempotency', key);
      if (seen) {
        if (seen.hash !== '' && seen.hash !== hash) {
          return Promise.reject(
            new SwitchboardError(
              'SB_ERR_IDEMPOTENCY_KEY_REUSED',
              `idempotency key "${key}" was used for a different message (another recipient or text)`,
              422,
            ),
          );
        }
        const known = this.get(seen.id) ?? this.#recent.get(seen.id);
        // The first request may still be on its way to disk: answer once it is there.
        return this.store
          .flushed()
          .then(() => ({ id: seen.id, status: known?.status ?? 'sent', created: false }));
      }
    }
    const id = this.#newId();
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
    return this.batch((tx) => {
      this.#replace(tx, undefined, m);
      if (key !== undefined) tx.put('idempotency', key, { id, at: now, hash });
      this.#housekeep(tx, now);
      return { id, status: m.status, created: true };
    });
  }

  /** Gives a waiting message to a master under a new epoch. Joins the caller's batch when in one. */
  assign(id: string, master: string, note?: string): Promise<void> {
    return this.batch((tx) => {
      const m = this.get(id);
      if (!m || !isQueued(m)) return;
      this.#change(tx, m, { status: 'assigned', master, epoch: m.epoch + 1 }, note);
    });
  }

  /**
   * Marks sends as started (attempts + 1) in one transaction. The caller sends only after
   * `durable` resolves, and only if the message is still exactly this record (see isCurrent).
   */
  markSending(
    master: string,
    messages: readonly MessageRecord[],
  ): { started: MessageRecord[]; durable: Promise<void> } {
    const started: MessageRecord[] = [];
    const durable = this.batch((tx) => {
      for (const m of messages) {
        const now = this.get(m.id);
        if (now !== m || now.master !== master || !isPending(now)) continue;
        started.push(this.#change(tx, now, { status: 'sending', attempts: now.attempts + 1 }));
      }
    });
    return { started, durable };
  }

  /**
   * True while the send `m` was marked for is still the message's current one: same master, same
   * epoch, same attempt, still `sending`. A failover (new epoch or master), a reload (sending ->
   * unknown) or a resend changes one of them. Not record identity: a note added to the history
   * (a late acknowledgement of an earlier attempt) replaces the record without taking the send away,
   * and a send skipped for that would leave the message `sending` with nobody sending it.
   */
  isCurrent(m: MessageRecord): boolean {
    const now = this.get(m.id);
    return (
      now !== undefined &&
      now.status === 'sending' &&
      now.master === m.master &&
      now.epoch === m.epoch &&
      now.attempts === m.attempts
    );
  }

  /**
   * WhatsApp acknowledged the send made under `epoch`. When the message moved meanwhile, the ack
   * still counts: if nobody is sending it now it is done; otherwise its history records the
   * possible duplicate.
   */
  markSent(id: string, master: string, epoch: number): Promise<void> {
    return this.batch((tx) => {
      const m = this.get(id);
      if (!m) return;
      const now = this.clock.now();
      if (m.master === master && m.epoch === epoch && m.status === 'sending') {
        this.#change(tx, m, { status: 'sent', sentAt: now });
      } else if (m.status === 'sent') {
        this.#replace(tx, m, {
          ...m,
          history: [...m.history, entry(now, 'sent', master, `also acknowledged on ${master}: sent twice`)],
        });
      } else if (m.status === 'sending') {
        this.#replace(tx, m, {
          ...m,
          history: [
            ...m.history,
            entry(
              now,
              'unknown',
              master,
              `acknowledged on ${master} after it moved; ${m.master} is sending it too: may arrive twice`,
            ),
          ],
        });
      } else if (!FINISHED.has(m.status)) {
        this.#change(
          tx,
          m,
          { status: 'sent', sentAt: now, master },
          `acknowledged on ${master} after the message moved to ${m.master ?? 'the queue'}`,
        );
      }
    });
  }

  /**
   * The outcome of a send is not known (timeout, socket died without an ack): it may have reached
   * WhatsApp. It goes back to the queue as `unknown` to be sent again (a resend prefers another
   * master), unless it has been on the wire `maxAttempts` times: then it fails, saying it may
   * have been delivered. Returns what became of it.
   */
  markUnknown(id: string, master: string, epoch: number, note: string): Promise<'unknown' | 'failed' | null> {
    return this.batch((tx) => {
      const m = this.get(id);
      if (!m || m.master !== master || m.epoch !== epoch || m.status !== 'sending') return null;
      return this.#ambiguous(tx, m, null, note);
    });
  }

  /** unknown (queued again, or kept by `owner`) or failed after maxAttempts. */
  #ambiguous(tx: Transaction, m: MessageRecord, owner: string | null, note: string): 'unknown' | 'failed' {
    if (m.attempts >= this.maxAttempts) {
      this.#finish(
        tx,
        m,
        'failed',
        `no acknowledgement after ${m.attempts} attempts: it may have been delivered (${note})`,
      );
      return 'failed';
    }
    this.#change(tx, m, { status: 'unknown', master: owner, epoch: m.epoch + 1 }, note);
    return 'unknown';
  }

  /**
   * A send was refused for sure: nothing reached WhatsApp. A refusal about the recipient (not on
   * WhatsApp) fails the message with the reason; otherwise the master was at fault and the
   * message goes back to the queue for any master.
   */
  markSendFailed(
    id: string,
    master: string,
    epoch: number,
    reason: string,
    recipientFault = false,
  ): Promise<void> {
    return this.batch((tx) => {
      const m = this.get(id);
      if (!m || m.master !== master || m.epoch !== epoch || m.status !== 'sending') return;
      if (recipientFault) this.#finish(tx, m, 'failed', reason);
      else
        this.#change(
          tx,
          m,
          { status: 'queued', master: null, epoch: m.epoch + 1 },
          `send on ${master} failed: ${reason}; queued again`,
        );
    });
  }

  /** A receipt from WhatsApp. Finished messages leave the live state for the history files. */
  markReceipt(id: string, status: 'delivered' | 'read'): Promise<void> {
    return this.batch((tx) => {
      const m = this.get(id) ?? this.#recent.get(id);
      if (!m || m.status === status || m.status === 'read') return;
      if (m.status !== 'sent' && m.status !== 'delivered') return;
      this.#finish(tx, m, status);
    });
  }

  /**
   * Failover: moves every unsent message of `from` to `to` (or back to the queue when null), its
   * contacts' affinity, and whatever `alongside` writes (the audit record), in one journal record.
   * A message mid-send moves as `unknown` (it may have gone out).
   */
  transfer(
    from: string,
    to: string | null,
    note: string,
    alongside?: (tx: Transaction, moved: TransferResult) => void,
  ): Promise<TransferResult> {
    return this.batch((tx) => {
      const ids = [...(this.#pending.get(from) ?? []), ...(this.#sending.get(from) ?? [])];
      for (const id of ids) {
        const m = this.get(id)!;
        if (m.status === 'sending')
          this.#ambiguous(tx, m, to, `${note}; was mid-send on ${from}: may arrive twice`);
        else if (to === null)
          this.#change(
            tx,
            m,
            { status: m.status === 'unknown' ? 'unknown' : 'queued', master: null, epoch: m.epoch + 1 },
            note,
          );
        else this.#change(tx, m, { master: to, epoch: m.epoch + 1 }, note);
      }
      const contacts = tx.moveAffinity(from, to);
      const result = { messages: ids.length, contacts, ids };
      alongside?.(tx, result);
      return result;
    });
  }

  /**
   * After a restart or a reload of the store: a send that was in flight may or may not have
   * reached WhatsApp. It becomes `unknown` (kept by its master) and is sent again, at most up to
   * maxAttempts, its history saying so.
   */
  recoverInFlight(why: string): Promise<number> {
    return this.batch((tx) => {
      let n = 0;
      for (const [master, ids] of [...this.#sending]) {
        for (const id of [...ids]) {
          this.#ambiguous(tx, this.get(id)!, master, `in flight when ${why}: sent again, may arrive twice`);
          n++;
        }
      }
      return n;
    });
  }

  /**
   * Messages owned by a master that is no longer configured go back to the queue, and its
   * contacts' affinity is dropped.
   */
  requeueOrphans(known: ReadonlySet<string>): Promise<number> {
    return this.batch((tx) => {
      let n = 0;
      for (const master of this.owners()) {
        if (known.has(master)) continue;
        n += this.#requeueAll(tx, master, `${master} is no longer configured`);
      }
      for (const master of new Set(this.store.map('affinity').values()))
        if (!known.has(master)) tx.moveAffinity(master, null);
      return n;
    });
  }

  #requeueAll(tx: Transaction, master: string, note: string): number {
    const ids = [...(this.#pending.get(master) ?? []), ...(this.#sending.get(master) ?? [])];
    for (const id of ids) {
      const m = this.get(id)!;
      if (m.status === 'sending') this.#ambiguous(tx, m, null, `${note}; was mid-send: may arrive twice`);
      else
        this.#change(
          tx,
          m,
          { status: m.status === 'unknown' ? 'unknown' : 'queued', master: null, epoch: m.epoch + 1 },
          note,
        );
    }
    return ids.length;
  }

  /**
   * Keeps the live state from growing for ever, at most once a minute: a `sent` message with no
   * receipt for a day goes to the history files; an idempotency key is forgotten a day after it
   * was used once its message has finished.
   */
  #housekeep(tx: Transaction, now: number): void {
    if (now - this.#housekeptAt < 60_000) return;
    this.#housekeptAt = now;
    for (const id of [...this.#sent]) {
      const m = this.get(id);
      if (m?.status !== 'sent') {
        this.#sent.delete(id);
        continue;
      }
      if (now - (m.sentAt ?? m.createdAt) <= STALE_SENT_MS) break;
      this.#archive(tx, {
        ...m,
        finishedAt: now,
        history: [...m.history, entry(now, 'sent', undefined, 'no receipt after a day')],
      });
    }
    for (const [key, seen] of this.store.map('idempotency')) {
      if (now - seen.at > IDEMPOTENCY_TTL_MS && !this.get(seen.id)) tx.del('idempotency', key);
    }
  }

  /** Retention: the recently finished messages kept for listings lose their text too. */
  removeRecentTexts(before: number, note: string): number {
    let n = 0;
    for (const [id, m] of this.#recent) {
      if (m.text === null || (m.finishedAt ?? Number.POSITIVE_INFINITY) >= before) continue;
      this.#recent.set(id, withoutText(m, note));
      n++;
    }
    return n;
  }

  /** Messages, newest first, filtered; and the counts per status over the live state and recent finished ones. */
  list(filter: { status?: MessageStatus; master?: string; limit?: number } = {}): {
    messages: MessageRecord[];
    counts: MessageCounts;
  } {
    const limit = filter.limit ?? 100;
    const counts = this.counts();
    for (const m of this.#recent.values()) counts[m.status]++;
    const source = [...this.store.map('messages').values(), ...this.#recent.values()].sort(
      (a, b) => b.createdAt - a.createdAt,
    );
    const messages: MessageRecord[] = [];
    for (const m of source) {
      if (messages.length >= limit) break;
      if (filter.status && m.status !== filter.status) continue;
      if (filter.master && m.master !== filter.master) continue;
      messages.push(m);
    }
    return { messages, counts };
  }

  // --- internals ------------------------------------------------------------------------------

  /** Replaces `m` with a new record: status change plus its history entry. */
  #change(
    tx: Transaction,
    m: MessageRecord,
    patch: Partial<Pick<MessageRecord, 'status' | 'master' | 'epoch' | 'attempts' | 'sentAt'>>,
    note?: string,
  ): MessageRecord {
    const next: MessageRecord = { ...m, ...patch };
    const now = this.clock.now();
    const after: MessageRecord = {
      ...next,
      history: [...m.history, entry(now, next.status, next.master ?? undefined, note)],
    };
    this.#replace(tx, m, after);
    return after;
  }

  #finish(tx: Transaction, m: MessageRecord, status: 'delivered' | 'read' | 'failed', note?: string): void {
    const now = this.clock.now();
    this.#archive(tx, {
      ...m,
      status,
      finishedAt: now,
      history: [...m.history, entry(now, status, m.master ?? undefined, note)],
    });
  }

  #archive(tx: Transaction, m: MessageRecord): void {
    const before = this.get(m.id) ?? this.#recent.get(m.id);
    if (this.get(m.id)) this.#unindex(this.get(m.id)!);
    tx.archive(m);
    this.#recent.delete(m.id);
    this.#recent.set(m.id, m);
    if (this.#recent.size > this.#recentLimit) {
      const oldest = this.#recent.keys().next().value;
      if (oldest !== undefined) this.#recent.delete(oldest);
    }
    this.#transition(tx, m, before?.status ?? null);
    if (before?.master && before.status !== 'sent') this.#ownedChanged(before.master);
  }

  #replace(tx: Transaction, before: MessageRecord | undefined, after: MessageRecord): void {
    if (before) this.#unindex(before);
    tx.put('messages', after.id, after);
    this.#index(after);
    if (before?.status !== after.status) this.#transition(tx, after, before?.status ?? null);
    if (isQueued(after) && !(before && isQueued(before))) this.#events.push({ type: 'queued', to: after.to });
    const owners = new Set([before?.master, after.master]);
    for (const o of owners) if (o) this.#ownedChanged(o);
  }

  /** A status change: hooks record what must commit with it (webhook events), listeners hear of it after. */
  #transition(tx: Transaction, message: MessageRecord, previous: MessageStatus | null): void {
    for (const hook of this.#hooks) hook(tx, message, previous);
    this.#events.push({ type: 'status', message, previous });
  }

  /**
   * Runs inside the transaction of every status change, so what it writes commits with the change
   * or not at all (webhook events: "a change is never committed without its event").
   */
  onTransition(
    hook: (tx: Transaction, message: MessageRecord, previous: MessageStatus | null) => void,
  ): () => void {
    this.#hooks.add(hook);
    return () => this.#hooks.delete(hook);
  }

  #ownedChanged(master: string): void {
    this.#events.push({ type: 'owned', master, count: this.ownedCount(master) });
  }

  #index(m: MessageRecord): void {
    this.#counts[m.status]++;
    if (isQueued(m)) {
      let q = this.#queues.get(m.to);
      if (!q) {
        q = new IdQueue();
        this.#queues.set(m.to, q);
      }
      q.insert(m.id, m.createdAt, (id) => this.get(id)?.createdAt ?? 0);
      this.#queued++;
    } else if (isPending(m)) setOf(this.#pending, m.master!).add(m.id);
    else if (m.status === 'sending' && m.master) setOf(this.#sending, m.master).add(m.id);
    else if (m.status === 'sent') this.#sent.add(m.id);
  }

  #unindex(m: MessageRecord): void {
    this.#counts[m.status]--;
    if (isQueued(m)) {
      const q = this.#queues.get(m.to);
      if (q) {
        q.remove(m.id);
        if (q.size === 0) this.#queues.delete(m.to);
        this.#queued--;
      }
    } else if (isPending(m)) this.#pending.get(m.master!)?.delete(m.id);
    else if (m.status === 'sending' && m.master) this.#sending.get(m.master)?.delete(m.id);
    else if (m.status === 'sent') this.#sent.delete(m.id);
  }

  #emit(change: OutboxChange): void {
    for (const l of this.#listeners) l(change);
  }
}

function setOf(map: Map<string, Set<string>>, key: string): Set<string> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function entry(at: number, status: MessageStatus, master?: string, note?: string): HistoryEntry {
  return { at, status, ...(master ? { master } : {}), ...(note ? { note } : {}) };
}

function zeroCounts(): MessageCounts {
  return Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as MessageCounts;
}

/** Upserts an audit record inside a transaction (the failover transfer and its outcome). */
export function putFailover(tx: Transaction, record: FailoverRecord): void {
  tx.put('failovers', record.id, record);
}
