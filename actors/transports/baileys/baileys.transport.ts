// The Transport of one real WhatsApp account through Baileys: one socket at a time, a new
// makeWASocket (same auth state) for every connect, and sends that resolve on the server's ack.
import makeWASocket, {
  type BinaryNode,
  type proto,
  S_WHATSAPP_NET,
  type WAMessageKey,
  WAMessageStatus,
  type WAMessageUpdate,
  type WASocket,
} from 'baileys';
import { classifyDisconnect, RESTRICTED_SEND_CODE } from '../../../machines/master.machine.ts';
import type { Logger } from '../../../src/logger.ts';
import {
  type ConnectionEvent,
  type OutgoingMessage,
  type Receipt,
  SendError,
  type Transport,
} from '../../transport.ts';
import { AuthStore, readPaired } from './auth-store.ts';

type BaileysLogger = Parameters<typeof makeWASocket>[0]['logger'];

/** Close code reported for a master whose credentials are missing (WhatsApp's "logged out"). */
export const NOT_PAIRED_CLOSE = 401;
/** A restart-required close (515) during connect is followed at once, at most this many times. */
const MAX_RESTARTS_PER_CONNECT = 3;
/** Recipients confirmed on WhatsApp are not looked up again for this long. */
const CONTACT_TTL_MS = 6 * 60 * 60_000;
const MAX_REMEMBERED = 5_000;
/** Where Baileys' log records carry phone numbers (a child's redact replaces the root's, so `to` is repeated). */
const BAILEYS_PERSONAL_FIELDS = [
  'to',
  'from',
  'jid',
  'participant',
  'remoteJid',
  'recipient',
  '*.to',
  '*.from',
  '*.jid',
  '*.participant',
  '*.remoteJid',
  '*.recipient',
];

export interface BaileysTransportOptions {
  phone: string;
  /** The master's auth directory (authDir(dataDir, phone)). */
  authDir: string;
  log: Logger;
  /** Level of Baileys' own records, which go through `log` (default warn: Baileys is chatty). */
  logLevel?: string;
  /** Watchdog: a connect that has not reached `open` after this long is abandoned (Baileys can hang). */
  openTimeoutMs: number;
  /** Deadline of Baileys' own ping query; the health probe's timeout aborts earlier if it is shorter. */
  probeTimeoutMs: number;
  /** Baileys' keep-alive ping interval (it closes with 408 after ~interval + 5 s of silence). */
  keepAliveIntervalMs?: number;
  /** Deadline of Baileys' own queries (default 20 s); queries pending when a socket dies wait this long. */
  queryTimeoutMs?: number;
  /** fsync auth writes (default true). */
  fsync?: boolean;
  /**
   * The WebSocket URL instead of WhatsApp's. Test-only: createBaileysTransports() accepts it only
   * from code (never from the config file), only for a loopback address, only under NODE_ENV=test.
   */
  endpoint?: string;
}

interface PendingSend {
  written: boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

type OpenOutcome = { ok: true } | { ok: false; code: number | undefined; reason: string; report: boolean };

export class BaileysTransport implements Transport {
  readonly kind = 'baileys' as const;
  readonly phone: string;
  readonly #options: BaileysTransportOptions;
  readonly #log: Logger;
  readonly #baileysLog: BaileysLogger;
  #auth: AuthStore | null = null;
  #sock: WASocket | null = null;
  #open = false;
  #closed = false;
  /** Ends the wait for `open` of the socket being opened (retired sockets report nothing themselves). */
  #cancelOpen: (() => void) | null = null;
  readonly #pending = new Map<string, PendingSend>();
  readonly #contacts = new Map<string, number>();
  /** Messages we sent, for Baileys' retry path (a recipient that could not decrypt asks again). */
  readonly #sent = new Map<string, proto.IMessage>();
  readonly #listeners = new Set<(event: ConnectionEvent) => void>();
  readonly #receiptListeners = new Set<(receipt: Receipt) => void>();

  constructor(options: BaileysTransportOptions) {
    this.phone = options.phone;
    this.#options = options;
    this.#log = options.log.child({ master: options.phone, transport: 'baileys' });
    const level = quieter(this.#log, options.logLevel ?? 'warn');
    this.#baileysLog = this.#log.child(
      { component: 'baileys' },
      // Baileys logs JIDs (recipients' numbers) under its own field names; below debug they are redacted.
      level === 'debug' || level === 'trace'
        ? { level }
        : { level, redact: { paths: BAILEYS_PERSONAL_FIELDS, censor: '[redacted]' } },
    );
  }

  /** Whether this master's credentials belong to a paired device (re-read from disk until they do). */
  get paired(): boolean {
    return this.#auth?.paired || readPaired(this.#options.authDir);
  }

  get connected(): boolean {
    return this.#open;
  }

  async connect(signal: AbortSignal): Promise<void> {
    if (this.#closed) throw new Error('transport closed');
    this.#retire(this.#sock);
    const auth = await this.#loadAuth();
    if (!auth.paired) {
      const reason = `pair this number: switchboard pair ${this.phone}`;
      this.#emit({ type: 'close', code: NOT_PAIRED_CLOSE, reason });
      throw new SendError(reason, NOT_PAIRED_CLOSE);
    }
    for (let restarts = 0; ; restarts++) {
      signal.throwIfAborted();
      const outcome = await this.#openSocket(auth, signal);
      if (outcome.ok) return;
      if (outcome.code === 515 && restarts < MAX_RESTARTS_PER_CONNECT) {
        this.#log.info('restart required (515): reconnecting at once');
        continue;
      }
      if (outcome.report) {
        this.#emit({
          type: 'close',
          ...(outcome.code === undefined ? {} : { code: outcome.code }),
          reason: outcome.reason,
        });
      }
      throw new SendError(
        `${outcome.code === undefined ? '' : `(${outcome.code}) `}${outcome.reason}`,
        outcome.code,
      );
    }
  }

  async probe(signal: AbortSignal): Promise<void> {
    const sock = this.#usable();
    const ping: BinaryNode = {
      tag: 'iq',
      attrs: { to: S_WHATSAPP_NET, type: 'get', xmlns: 'w:p' },
      content: [{ tag: 'ping', attrs: {} }],
    };
    // Without a timeout Baileys' query waits for its default (60 s) and then resolves undefined.
    const answer = await abortable(sock.query(ping, this.#options.probeTimeoutMs), signal);
    if (!answer) throw new Error(`no answer to ping within ${this.#options.probeTimeoutMs} ms`);
  }

  async send(message: OutgoingMessage, signal: AbortSignal): Promise<void> {
    const sock = this.#usable();
    const jid = toJid(message.to);
    await this.#assertOnWhatsApp(sock, message.to, jid, signal);
    if (this.#pending.has(message.messageId)) {
      throw new SendError(`message ${message.messageId} is already in flight`, undefined, true);
    }
    let pending!: PendingSend;
    const acked = new Promise<void>((resolve, reject) => {
      pending = { written: false, resolve, reject };
    });
    // Registered before the write: the ack can be processed before sendMessage's promise settles.
    this.#pending.set(message.messageId, pending);
    // Once sendMessage runs, only its own rejection proves the stanza never left: an abort or a
    // close before that leaves the outcome unknown.
    const onAbort = () => {
      const why = signal.reason instanceof Error ? signal.reason.message : 'send aborted';
      this.#settle(message.messageId, new SendError(why, undefined, true));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      sock.sendMessage(jid, { text: message.text, linkPreview: null }, { messageId: message.messageId }).then(
        (sent) => {
          pending.written = true;
          if (sent?.message) this.#remember(this.#sent, message.messageId, sent.message);
        },
        (err: unknown) => this.#settle(message.messageId, writeError(err)),
      );
      if (signal.aborted) onAbort();
      await acked;
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.#pending.delete(message.messageId);
    }
  }

  onConnection(listener: (event: ConnectionEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  onReceipt(listener: (receipt: Receipt) => void): () => void {
    this.#receiptListeners.add(listener);
    return () => this.#receiptListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelOpen?.();
    this.#retire(this.#sock);
    await this.#auth?.flush();
  }

  // --- connection ------------------------------------------------------------------------------

  async #loadAuth(): Promise<AuthStore> {
    // Re-read until paired: `switchboard pair` may have written credentials since the last try.
    if (!this.#auth?.paired)
      this.#auth = await AuthStore.open(this.#options.authDir, { fsync: this.#options.fsync ?? true });
    return this.#auth;
  }

  /** One socket from creation to `open` (resolves ok) or to its end (resolves with the close). */
  #openSocket(auth: AuthStore, signal: AbortSignal): Promise<OpenOutcome> {
    const sock = makeWASocket({
      auth: auth.state,
      logger: this.#baileysLog,
      ...(this.#options.endpoint ? { waWebSocketUrl: this.#options.endpoint } : {}),
      connectTimeoutMs: this.#options.openTimeoutMs,
      keepAliveIntervalMs: this.#options.keepAliveIntervalMs ?? 30_000,
      defaultQueryTimeoutMs: this.#options.queryTimeoutMs ?? 20_000,
      // A sender fleet: the phone keeps its notifications, no history to download.
      markOnlineOnConnect: false,
      syncFullHistory: false,
      getMessage: async (key: WAMessageKey) => (key.id ? this.#sent.get(key.id) : undefined),
    });
    this.#sock = sock;
    sock.ev.on('creds.update', () => {
      auth.saveCreds().catch((err: unknown) => this.#log.error({ err }, 'could not save credentials'));
    });
    sock.ev.on('messages.update', (updates) => this.#onUpdates(updates));
    sock.ev.on('messages.upsert', ({ messages }) => {
      // Updates that arrive while Baileys buffers events are folded into our own message's upsert.
      this.#onUpdates(
        messages
          .filter((m) => m.key.fromMe && m.status != null)
          .map((m) => ({ key: m.key, update: { status: m.status } })),
      );
    });
    sock.ws.on('CB:ack,class:message', (node: BinaryNode) => this.#onAck(node));

    return new Promise<OpenOutcome>((resolve) => {
      let done = false;
      const finish = (outcome: OpenOutcome) => {
        if (done) return;
        done = true;
        this.#cancelOpen = null;
        clearTimeout(watchdog);
        signal.removeEventListener('abort', onAbort);
        if (!outcome.ok) this.#retire(sock);
        resolve(outcome);
      };
      // Baileys waits forever when the upgrade is answered with an HTTP error (403, 503): no close event.
      const watchdog = setTimeout(
        () =>
          finish({
            ok: false,
            code: 408,
            reason: `no "open" within ${this.#options.openTimeoutMs} ms (watchdog)`,
            report: false,
          }),
        this.#options.openTimeoutMs,
      );
      const onAbort = () => finish({ ok: false, code: undefined, reason: 'connect aborted', report: false });
      signal.addEventListener('abort', onAbort, { once: true });
      this.#cancelOpen = () =>
        finish({ ok: false, code: undefined, reason: 'transport closed', report: false });
      sock.ev.on('connection.update', (update) => {
        if (this.#sock !== sock) return;
        if (update.connection === 'open') {
          this.#open = true;
          this.#log.info('connection open');
          finish({ ok: true });
        } else if (update.connection === 'close') {
          const { code, reason } = closeOf(update.lastDisconnect?.error);
          this.#sock = null;
          this.#open = false;
          this.#failPending(code, reason);
          if (!done) return finish({ ok: false, code, reason, report: code !== 515 });
          this.#log.warn({ code, reason, kind: classifyDisconnect(code) }, 'connection closed');
          this.#emit({ type: 'close', ...(code === undefined ? {} : { code }), reason });
        }
      });
    });
  }

  /** Ends a socket we no longer want; its close is ours, so it is never reported. */
  #retire(sock: WASocket | null): void {
    if (!sock) return;
    if (this.#sock === sock) {
      this.#sock = null;
      this.#open = false;
      this.#failPending(undefined, 'connection replaced by a new one');
    }
    void sock.end(undefined).catch(() => undefined);
    // end() waits for the WebSocket's close, which never comes for an upgrade left hanging.
    (sock.ws as unknown as { socket?: { terminate?: () => void } | null }).socket?.terminate?.();
  }

  #usable(): WASocket {
    const sock = this.#sock;
    if (!sock || !this.#open) throw new SendError('not connected', 428);
    return sock;
  }

  #emit(event: ConnectionEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  // --- sends and receipts ----------------------------------------------------------------------

  /** WhatsApp accepts and then silently drops a message to a number it does not know: look first. */
  async #assertOnWhatsApp(sock: WASocket, to: string, jid: string, signal: AbortSignal): Promise<void> {
    const until = this.#contacts.get(to);
    if (until !== undefined && until > Date.now()) return;
    let found: { jid: string; exists: boolean }[] | undefined;
    try {
      found = await abortable(sock.onWhatsApp(jid), signal);
    } catch (err) {
      throw new SendError(`could not look up the recipient: ${(err as Error).message}`, codeOf(err));
    }
    if (!found) throw new SendError('could not look up the recipient: no answer', 408);
    if (!found.some((r) => r.exists)) throw new SendError(`${to} is not on WhatsApp`, 404, false, true);
    this.#remember(this.#contacts, to, Date.now() + CONTACT_TTL_MS);
  }

  /** The server's ack of a message stanza: without error it is the acknowledgement send() waits for. */
  #onAck(node: BinaryNode): void {
    const id = node.attrs.id;
    if (!id || !this.#pending.has(id)) return;
    const error = node.attrs.error;
    if (!error) {
      this.#settle(id, null);
      return;
    }
    const code = Number(error);
    this.#settle(
      id,
      new SendError(
        code === RESTRICTED_SEND_CODE
          ? 'account restricted by WhatsApp (463)'
          : `WhatsApp refused the message (${code})`,
        Number.isFinite(code) ? code : undefined,
      ),
    );
  }

  #onUpdates(updates: WAMessageUpdate[]): void {
    for (const { key, update } of updates) {
      if (!key.fromMe || !key.id || update.status == null) continue;
      const status = update.status;
      if (status === WAMessageStatus.ERROR) {
        const code = Number(update.messageStubParameters?.[0]);
        this.#settle(
          key.id,
          new SendError(
            `WhatsApp refused the message (${update.messageStubParameters?.[0] ?? 'error'})`,
            Number.isFinite(code) ? code : undefined,
          ),
        );
        continue;
      }
      // A receipt proves the server had the message even if its ack was missed.
      if (status >= WAMessageStatus.SERVER_ACK) this.#settle(key.id, null);
      const receipt: Receipt['status'] | null =
        status === WAMessageStatus.DELIVERY_ACK
          ? 'delivered'
          : status >= WAMessageStatus.READ
            ? 'read'
            : null;
      if (!receipt) continue;
      for (const listener of this.#receiptListeners) listener({ messageId: key.id, status: receipt });
    }
  }

  #settle(id: string, err: Error | null): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (err) pending.reject(err);
    else pending.resolve();
  }

  /** The socket went away: a send in flight may or may not have reached WhatsApp. */
  #failPending(code: number | undefined, reason: string): void {
    for (const [id, pending] of this.#pending) {
      this.#pending.delete(id);
      const when = pending.written ? 'after the write, before the server acknowledged' : 'during the send';
      pending.reject(new SendError(`connection closed ${when}: ${reason}`, code, true));
    }
  }

  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > MAX_REMEMBERED) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}

/** The quieter of `level` and the parent logger's level: a child never logs what its parent silences. */
function quieter(parent: Logger, level: string): string {
  const wanted = parent.levels.values[level] ?? parent.levels.values.warn!;
  return parent.levelVal > wanted ? parent.level : level;
}

/** "+15550002222" -> "15550002222@s.whatsapp.net" */
export function toJid(phone: string): string {
  return `${phone.replace(/^\+/, '')}@s.whatsapp.net`;
}

function codeOf(err: unknown): number | undefined {
  const code = (err as { output?: { statusCode?: unknown } } | undefined)?.output?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

function closeOf(err: unknown): { code: number | undefined; reason: string } {
  return { code: codeOf(err), reason: err instanceof Error ? err.message : 'connection closed' };
}

/**
 * sendMessage failed. Before its stanza is written it fails with "Connection Closed" (428) or a
 * local error: nothing reached WhatsApp. A write that timed out (408) may have gone out.
 */
function writeError(err: unknown): SendError {
  const code = codeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  return new SendError(`send failed: ${message}`, code, code === 408);
}

function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
