// What a webhook carries and what the store keeps of it: the event types, the body sent (README
// "Webhooks"), the endpoints and the queue's delivery records.

export const WEBHOOK_EVENT_TYPES = [
  'message.sent',
  'message.delivered',
  'message.read',
  'message.failed',
  'message.unknown',
  'failover.completed',
  'failover.rolledBack',
  'master.failed',
  'master.recovered',
  'alert.opened',
  'alert.resolved',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export function isWebhookEventType(value: unknown): value is WebhookEventType {
  return typeof value === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);
}

/** An event as recorded: the body is built from it at delivery time (so a text is read then, if asked for). */
export interface WebhookEvent {
  /** Unique per event (the same for every endpoint and every retry): receivers deduplicate on it. */
  readonly id: string;
  readonly type: WebhookEventType;
  /** When the change happened (clock ms). */
  readonly at: number;
  /** Plain JSON; message events hold the message id and status, never the text. */
  readonly data: Readonly<Record<string, unknown>>;
}

export interface WebhookEndpoint {
  readonly id: string;
  readonly url: string;
  /** The types sent to it; '*' means all. */
  readonly events: readonly (WebhookEventType | '*')[];
  /** Standard Webhooks secret (`whsec_` + base64): requests are signed when set. */
  readonly secret?: string;
  /** Message events carry the message's text, read at delivery time (null once retention removed it). */
  readonly includeText: boolean;
  readonly createdAt: number;
}

export interface WebhookDelivery {
  /** The queue key: `d<seq>:<endpoint>`. */
  readonly id: string;
  /** Order of recording; deliveries to one endpoint start in this order. */
  readonly seq: number;
  readonly endpoint: string;
  /** Events with the same key reach an endpoint one after the other (a message's id, a failover's id ...). */
  readonly orderKey: string;
  readonly event: WebhookEvent;
  readonly state: 'pending' | 'parked';
  readonly attempts: number;
  /** Not before this (clock ms): the retry backoff. */
  readonly nextAt: number;
  readonly lastError?: string;
  readonly parkedAt?: number;
}

/** The JSON body of a webhook request. */
export interface WebhookBody {
  id: string;
  type: WebhookEventType;
  timestamp: string;
  data: Record<string, unknown>;
}

export function wantsEvent(endpoint: Pick<WebhookEndpoint, 'events'>, type: WebhookEventType): boolean {
  return endpoint.events.includes('*') || endpoint.events.includes(type);
}
