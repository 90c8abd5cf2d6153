// The one interface every WhatsApp transport implements (sim now, Baileys later).
export type ConnectionEvent = { type: 'open' } | { type: 'close'; code?: number; reason?: string };

export interface Receipt {
  messageId: string;
  status: 'delivered' | 'read';
}

export interface OutgoingMessage {
  messageId: string;
  to: string;
  text: string;
}

/** A send the network refused; `code` follows WhatsApp's numbers where there is one (463: restricted). */
export class SendError extends Error {
  override name = 'SendError';
  constructor(
    message: string,
    readonly code?: number,
    /** True when the message may have reached the network before the failure (outcome unknown). */
    readonly ambiguous = false,
    /** True when the recipient is the problem (not on WhatsApp, invalid): no master can send it. */
    readonly recipientFault = false,
  ) {
    super(message);
  }
}

export interface Transport {
  readonly phone: string;
  readonly kind: 'sim' | 'baileys';
  /** Whether the account's credentials are paired (Baileys); absent where pairing does not apply. */
  readonly paired?: boolean;
  /** Opens (or re-opens) the connection; resolves once it is open. */
  connect(signal: AbortSignal): Promise<void>;
  /** A cheap round trip (Baileys: a ping iq); rejects when the account does not answer. */
  probe(signal: AbortSignal): Promise<void>;
  /** Sends one message under our own id; resolves when the server acknowledged it. */
  send(message: OutgoingMessage, signal: AbortSignal): Promise<void>;
  /** Connection changes the transport saw by itself (not the ones connect() reports). */
  onConnection(listener: (event: ConnectionEvent) => void): () => void;
  /** Delivery and read receipts for messages sent under our ids. */
  onReceipt(listener: (receipt: Receipt) => void): () => void;
  close(): Promise<void>;
}
