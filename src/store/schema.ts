// The records the store keeps, by collection. Records are replaced, never mutated in place: a
// change is a new object put under the same key, so the journal, the checkpoint and an undo after a
// failed write can all hold references instead of copies.
import type { Alert } from '../../machines/monitor.machine.ts';
import type { ReportSample } from '../monitor/report.ts';
import type { WebhookDelivery, WebhookEndpoint } from '../webhooks/events.ts';

export const MESSAGE_STATUSES = [
  'queued',
  'assigned',
  'sending',
  'sent',
  'delivered',
  'read',
  'failed',
  'unknown',
] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export interface HistoryEntry {
  readonly at: number;
  readonly status: MessageStatus;
  readonly master?: string;
  readonly note?: string;
}

export interface MessageRecord {
  readonly id: string;
  readonly to: string;
  /** null once removed by the retention sweep (see retention.textHours). */
  readonly text: string | null;
  readonly status: MessageStatus;
  /** The owner: null while queued; otherwise the master that holds (or held) the message. */
  readonly master: string | null;
  /** Fencing token of the current assignment: a result reported under an older epoch is stale. */
  readonly epoch: number;
  /** How many times the message went on the wire (or may have). */
  readonly attempts: number;
  readonly createdAt: number;
  readonly sentAt?: number;
  /** When it reached a final status (delivered, read, failed). */
  readonly finishedAt?: number;
  readonly idempotencyKey?: string;
  readonly history: readonly HistoryEntry[];
}

export interface IdempotencyRecord {
  readonly id: string;
  /** When the key was first used. */
  readonly at: number;
  /** sha256 of the request (recipient and text): the same key with another body is refused. */
  readonly hash: string;
}

export type FailoverStatus = 'selecting' | 'transferring' | 'activating' | 'completed' | 'rolledBack';

export interface FailoverRecord {
  readonly id: string;
  readonly from: string;
  readonly to: string | null;
  readonly reason: string;
  readonly manual: boolean;
  readonly status: FailoverStatus;
  readonly startedAt: number;
  readonly completedAt?: number;
  readonly moved: { readonly messages: number; readonly contacts: number };
  /** Why it ended as it did, when that is not obvious (no backup, commit failed ...). */
  readonly note?: string;
}

export interface MasterRecord {
  /** An operator's priority change outlives a restart. */
  readonly priority?: number;
  readonly failovers: number;
}

/** Every collection and the type of its values. Keys are strings. */
export interface Collections {
  messages: MessageRecord;
  idempotency: IdempotencyRecord;
  /** recipient (E.164) -> master (E.164) that last wrote to them */
  affinity: string;
  masters: MasterRecord;
  failovers: FailoverRecord;
  /** Counters: 'incident' (last failover incident number), 'alert' (last alert number), 'webhook' (last webhook event number). */
  meta: number;
  /** The monitor's alerts by id (resolved ones too, the oldest dropped past monitor.keepResolvedAlerts). */
  alerts: Alert;
  /** The health report history, one compact sample per report, keyed by time (monitor.historySize of them). */
  reports: ReportSample;
  /** Webhook endpoints added over the API (the config's own are not stored), by id. */
  webhooks: WebhookEndpoint;
  /** The webhook queue: one record per event and endpoint, pending or parked, deleted once delivered. */
  webhookDeliveries: WebhookDelivery;
}
export type CollectionName = keyof Collections;
export const COLLECTIONS: readonly CollectionName[] = [
  'messages',
  'idempotency',
  'affinity',
  'masters',
  'failovers',
  'meta',
  'alerts',
  'reports',
  'webhooks',
  'webhookDeliveries',
];

/**
 * One change in a journal record.
 * - put: the value replaces what was under the key;
 * - del: the key is gone;
 * - archive: a finished message leaves `messages` for the history files (the record is its last state);
 * - move: every affinity entry pointing at `from` now points at `to` (or is dropped when null): a
 *   failover of a master with 100k contacts is one small record instead of 100k puts.
 */
export type Op =
  | readonly ['put', CollectionName, string, unknown]
  | readonly ['del', CollectionName, string]
  | readonly ['archive', MessageRecord]
  | readonly ['move', string, string | null];

export function isCollection(name: unknown): name is CollectionName {
  return typeof name === 'string' && (COLLECTIONS as readonly string[]).includes(name);
}

/** Names what is wrong with a message record read from disk, or null. */
export function checkMessage(id: string, value: unknown): string | null {
  const m = value as Partial<MessageRecord> | null;
  if (!m || typeof m !== 'object') return `message ${JSON.stringify(id)} is not an object`;
  if (m.id !== id) return `message ${JSON.stringify(id)} has id ${JSON.stringify(m.id)}`;
  if (typeof m.to !== 'string' || !Array.isArray(m.history))
    return `message ${JSON.stringify(id)} is malformed`;
  if (!MESSAGE_STATUSES.includes(m.status as MessageStatus))
    return `message ${JSON.stringify(id)} has status ${JSON.stringify(m.status)}`;
  return null;
}

/** The record without its text, saying why: what retention leaves of a finished message. */
export function withoutText(m: MessageRecord, note: string): MessageRecord {
  if (m.text === null) return m;
  const at = m.history.at(-1)?.at ?? m.createdAt;
  return { ...m, text: null, history: [...m.history, { at, status: m.status, note }] };
}
