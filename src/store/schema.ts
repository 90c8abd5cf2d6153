// The shape of the store document (switchboard.json) and of the records in it.
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
  at: number;
  status: MessageStatus;
  master?: string;
  note?: string;
}

export interface MessageRecord {
  id: string;
  to: string;
  text: string;
  status: MessageStatus;
  /** The owner: null while queued; otherwise the master that holds the message. */
  master: string | null;
  /** Fencing token of the current assignment (DESIGN's epoch): a result reported under an older epoch is stale. */
  epoch: number;
  attempts: number;
  createdAt: number;
  sentAt?: number;
  idempotencyKey?: string;
  history: HistoryEntry[];
}

export type FailoverStatus = 'selecting' | 'transferring' | 'activating' | 'completed' | 'rolledBack';

export interface FailoverRecord {
  id: string;
  from: string;
  to: string | null;
  reason: string;
  manual: boolean;
  status: FailoverStatus;
  startedAt: number;
  completedAt?: number;
  moved: { messages: number; contacts: number };
  /** Why it ended as it did, when that is not obvious (no backup, commit failed ...). */
  note?: string;
}

export interface MasterRecord {
  /** An operator's priority change outlives a restart. */
  priority?: number;
  failovers: number;
}

export interface StoreData {
  version: 1;
  /** Last epoch handed out (monotonic across restarts). */
  epoch: number;
  messages: Record<string, MessageRecord>;
  /** idempotency key -> the message it created and when; forgotten IDEMPOTENCY_TTL_MS after that. */
  idempotency: Record<string, { id: string; at: number }>;
  /** recipient (E.164) -> master (E.164) that last wrote to them */
  affinity: Record<string, string>;
  masters: Record<string, MasterRecord>;
  failovers: FailoverRecord[];
}

export function emptyStore(): StoreData {
  return { version: 1, epoch: 0, messages: {}, idempotency: {}, affinity: {}, masters: {}, failovers: [] };
}

/** Checks the document is ours and whole; names the first thing that is not. */
export function checkStoreShape(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const v = value as Record<string, unknown>;
  if (v.version !== 1) return `unsupported version ${JSON.stringify(v.version)}`;
  if (typeof v.epoch !== 'number') return 'field "epoch" is not a number';
  for (const key of ['messages', 'idempotency', 'affinity', 'masters'] as const) {
    const field = v[key];
    if (typeof field !== 'object' || field === null || Array.isArray(field))
      return `field "${key}" is not an object`;
  }
  if (!Array.isArray(v.failovers)) return 'field "failovers" is not an array';
  for (const [id, m] of Object.entries(v.messages as Record<string, unknown>)) {
    const msg = m as Partial<MessageRecord> | null;
    if (
      !msg ||
      typeof msg !== 'object' ||
      msg.id !== id ||
      typeof msg.to !== 'string' ||
      !Array.isArray(msg.history)
    ) {
      return `message ${JSON.stringify(id)} is malformed`;
    }
    if (!MESSAGE_STATUSES.includes(msg.status as MessageStatus))
      return `message ${id} has status ${msg.status}`;
  }
  return null;
}
