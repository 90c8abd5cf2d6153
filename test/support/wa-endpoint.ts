// A loopback WhatsApp Web endpoint for tests and benchmarks: speaks the Noise handshake with
// Baileys' own primitives, so a real Baileys socket reaches `open` offline, then lets a test script
// the server: stream errors, failures, TCP drops, silence, refused upgrades, acks and receipts.
import { createServer, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import {
  aesDecryptGCM,
  aesEncryptGCM,
  type BinaryNode,
  Curve,
  decodeBinaryNode,
  encodeBinaryNode,
  getBinaryNodeChild,
  hkdf,
  hmacSign,
  type KeyPair,
  NOISE_MODE,
  NOISE_WA_HEADER,
  proto,
  sha256,
  WA_ADV_ACCOUNT_SIG_PREFIX,
  WA_CERT_DETAILS,
} from 'baileys';
import { type WebSocket, WebSocketServer } from 'ws';

/**
 * The throwaway root key the endpoint signs its certificates with. A Baileys client trusts only
 * WhatsApp's root, so a test process must call trustEndpointRoot() once before connecting.
 */
const ROOT: KeyPair = Curve.generateKeyPair();

/** Makes this process's Baileys trust the endpoint root (of this process, or `publicKey` from another). */
export function trustEndpointRoot(publicKey: Uint8Array = ROOT.public): void {
  WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(publicKey);
  WA_CERT_DETAILS.SERIAL = 0;
}

/** The endpoint root's public key, for a client in another process. */
export function endpointRootKey(): Buffer {
  return Buffer.from(ROOT.public);
}

const iv = (n: number) => {
  const b = Buffer.alloc(12);
  b.writeUInt32BE(n, 8);
  return b;
};

/** The server half of Baileys' Noise XX state (mirrors its client-side handler). */
class ServerNoise {
  hash: Buffer;
  salt: Buffer;
  key: Buffer;
  counter = 0;

  constructor(clientEphemeral: Uint8Array) {
    const mode = Buffer.from(NOISE_MODE);
    this.hash = mode.length === 32 ? mode : sha256(mode);
    this.salt = this.hash;
    this.key = this.hash;
    this.auth(NOISE_WA_HEADER);
    this.auth(clientEphemeral);
  }

  auth(data: Uint8Array): void {
    this.hash = sha256(Buffer.concat([this.hash, data]));
  }

  mix(data: Uint8Array): void {
    const k = Buffer.from(hkdf(Buffer.from(data), 64, { salt: this.salt, info: '' }));
    this.salt = k.subarray(0, 32);
    this.key = k.subarray(32);
    this.counter = 0;
  }

  encrypt(plain: Uint8Array): Buffer {
    const out = aesEncryptGCM(plain, this.key, iv(this.counter++), this.hash);
    this.auth(out);
    return out;
  }

  decrypt(cipher: Uint8Array): Buffer {
    const out = aesDecryptGCM(cipher, this.key, iv(this.counter++), this.hash);
    this.auth(cipher);
    return out;
  }

  split(): { clientWrite: Buffer; clientRead: Buffer } {
    const k = Buffer.from(hkdf(Buffer.alloc(0), 64, { salt: this.salt, info: '' }));
    return { clientWrite: k.subarray(0, 32), clientRead: k.subarray(32) };
  }
}

function certChain(serverStatic: Uint8Array): Uint8Array {
  const intermediate = Curve.generateKeyPair();
  const Details = proto.CertChain.NoiseCertificate.Details;
  const intermediateDetails = Details.encode({
    serial: 1,
    issuerSerial: 0,
    key: intermediate.public,
  }).finish();
  const leafDetails = Details.encode({ serial: 2, issuerSerial: 1, key: serverStatic }).finish();
  return proto.CertChain.encode({
    intermediate: { details: intermediateDetails, signature: Curve.sign(ROOT.private, intermediateDetails) },
    leaf: { details: leafDetails, signature: Curve.sign(intermediate.private, leafDetails) },
  }).finish();
}

/** How the endpoint answers a message stanza. */
export type AckMode =
  /** server ack at once, then the receipts in `receipts` */
  | 'ack'
  /** records the message and never answers (an ack lost in flight) */
  | 'hold'
  /** a server ack carrying this error code (463: account restricted) */
  | { error: number };

export interface ReceivedMessage {
  id: string;
  /** The recipient's JID as the client addressed it. */
  to: string;
  /** Which connection (0-based, in the order they were accepted) carried it. */
  connection: number;
  at: number;
}

export interface WaEndpointOptions {
  /** The JID the endpoint tells the client it logged in as (only the LID matters to Baileys). */
  lid?: string;
  ack?: AckMode;
  /** Receipts sent after the server ack, `receiptDelayMs` apart. */
  receipts?: ('delivered' | 'read')[];
  receiptDelayMs?: number;
  /** Numbers (digits only) the usync contact lookup answers "not on WhatsApp". */
  notOnWhatsApp?: Iterable<string>;
}

/** One accepted WebSocket, after its handshake. */
export class WaConnection {
  /** Stops answering anything (iqs, messages), as a hung server would. */
  silent = false;
  /** Position among the endpoint's connections that completed a handshake (0-based). */
  index = -1;
  /** The client's static Noise key: Baileys' creds.noiseKey, the same on every socket of one account. */
  clientStatic: Buffer = Buffer.alloc(0);
  /** The user (phone digits) of a login; undefined for a registration (a device asking to pair). */
  username: string | undefined;
  #transport: { enc: Buffer; dec: Buffer; w: number; r: number } | null = null;

  constructor(readonly ws: WebSocket) {}

  /** @internal */
  setTransport(enc: Buffer, dec: Buffer): void {
    this.#transport = { enc, dec, w: 0, r: 0 };
  }

  /** @internal */
  decrypt(frame: Buffer): Buffer {
    const t = this.#transport!;
    return aesDecryptGCM(frame, t.dec, iv(t.r++), Buffer.alloc(0));
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  readonly #replies = new Map<string, () => void>();

  /** Runs `fn` when the client answers the iq `id`. */
  onReply(id: string, fn: () => void): void {
    this.#replies.set(id, fn);
  }

  /** @internal */
  replied(id: string | undefined): boolean {
    const fn = id === undefined ? undefined : this.#replies.get(id);
    if (!fn || id === undefined) return false;
    this.#replies.delete(id);
    fn();
    return true;
  }

  send(node: BinaryNode): void {
    const t = this.#transport;
    if (!t || !this.open) return;
    writeFrame(this.ws, aesEncryptGCM(encodeBinaryNode(node), t.enc, iv(t.w++), Buffer.alloc(0)));
  }

  /** `<stream:error code=...>`: 515 restart, 401 logged out, ... */
  streamError(code: number): void {
    this.send({ tag: 'stream:error', attrs: { code: String(code) } });
  }

  /** `<stream:error><conflict type=replaced/>`: another client took over the account (440). */
  conflict(): void {
    this.send({
      tag: 'stream:error',
      attrs: {},
      content: [{ tag: 'conflict', attrs: { type: 'replaced' } }],
    });
  }

  /** A stream error Baileys does not know, which it reports as 500 (bad session). */
  unknownStreamError(): void {
    this.send({ tag: 'stream:error', attrs: {}, content: [{ tag: 'xml-not-well-formed', attrs: {} }] });
  }

  /** `<failure reason=...>`: 403 forbidden, 402, 405 ... */
  failure(reason: number): void {
    this.send({ tag: 'failure', attrs: { reason: String(reason), location: 'frc' } });
  }

  /** Cuts the TCP connection without a WebSocket close frame. */
  drop(): void {
    this.ws.terminate();
  }
}

/** "15550002222:3@s.whatsapp.net" -> "15550002222" */
function userOf(jid: string): string {
  return jid.split('@')[0]?.split(':')[0] ?? '';
}

function writeFrame(ws: WebSocket, body: Uint8Array): void {
  const header = Buffer.alloc(3);
  header.writeUIntBE(body.length, 0, 3);
  ws.send(Buffer.concat([header, body]));
}

export class WaEndpoint {
  readonly connections: WaConnection[] = [];
  /** Every message stanza the endpoint received, in order: how tests count losses and duplicates. */
  readonly received: ReceivedMessage[] = [];
  /** Settings tests change on the fly. */
  ack: AckMode;
  receipts: ('delivered' | 'read')[];
  receiptDelayMs: number;
  readonly notOnWhatsApp: Set<string>;
  /** Pings answered, for probe tests. */
  pings = 0;
  /** HTTP status the next upgrades are answered with instead of a WebSocket (503, 403 ...), or null. */
  refuseUpgradeWith: number | null = null;
  /** Sees every iq the client sends (before it is answered). */
  onRequest: ((node: BinaryNode) => void) | null = null;
  /** Runs after every login (`<success>` sent): tests script the server's next move here. */
  onLogin: ((conn: WaConnection) => void) | null = null;
  readonly #lid: string;
  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #refused = new Set<Duplex>();
  readonly #waiters: { count: number; resolve: (c: WaConnection) => void }[] = [];
  #port = 0;

  private constructor(options: WaEndpointOptions) {
    this.ack = options.ack ?? 'ack';
    this.receipts = options.receipts ?? ['delivered'];
    this.receiptDelayMs = options.receiptDelayMs ?? 20;
    this.notOnWhatsApp = new Set(options.notOnWhatsApp ?? []);
    this.#lid = options.lid ?? '99999999999999@lid';
    this.#wss = new WebSocketServer({ noServer: true });
    this.#server = createServer((_req, res) => res.writeHead(404).end());
    this.#server.on('upgrade', (req, socket, head) => {
      if (this.refuseUpgradeWith !== null) {
        // Answer the upgrade with a plain HTTP error and keep the socket open: this is the case
        // where Baileys waits forever (it listens for 'unexpected-response' and does nothing).
        this.#refused.add(socket);
        socket.on('close', () => {
          this.#refused.delete(socket);
          this.refusedClosed++;
        });
        socket.on('end', () => socket.destroy()); // http sockets are half-open: the client left
        socket.on('error', () => undefined);
        socket.write(`HTTP/1.1 ${this.refuseUpgradeWith} Refused\r\nContent-Length: 0\r\n\r\n`);
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
    });
  }

  static async start(options: WaEndpointOptions = {}): Promise<WaEndpoint> {
    const endpoint = new WaEndpoint(options);
    await new Promise<void>((resolve) => endpoint.#server.listen(0, '127.0.0.1', resolve));
    const address = endpoint.#server.address();
    endpoint.#port = typeof address === 'object' && address ? address.port : 0;
    return endpoint;
  }

  /** Refused upgrades whose TCP connection the client closed. */
  refusedClosed = 0;

  /** Refused upgrades whose TCP connection the client has not closed yet. */
  get refusedOpen(): number {
    return this.#refused.size;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.#port}/ws/chat`;
  }

  /** The latest connection that completed its handshake. */
  get current(): WaConnection | undefined {
    return this.connections.at(-1);
  }

  /** Resolves with the `n`-th (1-based) connection once it completed its handshake. */
  connection(n: number): Promise<WaConnection> {
    const existing = this.connections[n - 1];
    if (existing) return Promise.resolve(existing);
    return new Promise((resolve) => this.#waiters.push({ count: n, resolve }));
  }

  /**
   * What the phone does when it scans `qr` (the string Baileys shows): signs a device identity for
   * the key in the QR and sends <pair-success> for `phone`, then asks for the restart (515).
   */
  scan(qr: string, phone: string): void {
    const conn = this.current;
    if (!conn) throw new Error('no connection to pair');
    const [, , identityB64, advB64] = qr.replace(/^.*#/, '').split(',');
    const identityKey = Buffer.from(identityB64!, 'base64');
    const deviceDetails = proto.ADVDeviceIdentity.encode({
      rawId: 1,
      timestamp: Math.floor(Date.now() / 1000),
      keyIndex: 1,
    }).finish();
    const account = Curve.generateKeyPair();
    const accountSignature = Curve.sign(
      account.private,
      Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, deviceDetails, identityKey]),
    );
    const details = proto.ADVSignedDeviceIdentity.encode({
      details: deviceDetails,
      accountSignatureKey: account.public,
      accountSignature,
    }).finish();
    const hmac = hmacSign(Buffer.from(details), Buffer.from(advB64!, 'base64'));
    const digits = phone.replace(/^\+/, '');
    conn.onReply('pair-success', () => conn.streamError(515));
    conn.send({
      tag: 'iq',
      attrs: { id: 'pair-success', type: 'result', from: 's.whatsapp.net' },
      content: [
        {
          tag: 'pair-success',
          attrs: {},
          content: [
            {
              tag: 'device-identity',
              attrs: {},
              content: proto.ADVSignedDeviceIdentityHMAC.encode({ details, hmac }).finish(),
            },
            { tag: 'platform', attrs: { name: 'android' } },
            {
              tag: 'device',
              attrs: { jid: `${digits}:7@s.whatsapp.net`, lid: this.#lid.replace('@', ':7@') },
            },
          ],
        },
      ],
    });
  }

  /** Stops accepting: open connections are cut, new ones refused at the TCP level. */
  async close(): Promise<void> {
    for (const c of this.connections) c.ws.terminate();
    for (const s of this.#refused) s.destroy();
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    let buffer = Buffer.alloc(0);
    let stage: 'intro' | 'hello' | 'finish' | 'transport' = 'intro';
    let noise: ServerNoise | undefined;
    let serverEphemeral: KeyPair | undefined;
    const serverStatic = Curve.generateKeyPair();
    const conn = new WaConnection(ws);
    ws.on('error', () => undefined);
    // Frames are handled strictly in order: decryption counters depend on it.
    let chain = Promise.resolve();
    ws.on('message', (data: Buffer) => {
      chain = chain.then(() => onData(data)).catch(() => ws.terminate());
    });
    const onData = async (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      if (stage === 'intro') {
        if (buffer.length < 4) return;
        buffer = buffer.subarray(4); // "WA", 6, dictionary version: no routing info from a fresh client
        stage = 'hello';
      }
      while (buffer.length >= 3) {
        const length = buffer.readUIntBE(0, 3);
        if (buffer.length < 3 + length) return;
        const frame = buffer.subarray(3, 3 + length);
        buffer = buffer.subarray(3 + length);
        if (stage === 'hello') {
          const { clientHello } = proto.HandshakeMessage.decode(frame);
          const clientEphemeral = clientHello!.ephemeral!;
          noise = new ServerNoise(clientEphemeral);
          serverEphemeral = Curve.generateKeyPair();
          noise.auth(serverEphemeral.public);
          noise.mix(Curve.sharedKey(serverEphemeral.private, clientEphemeral));
          const staticEnc = noise.encrypt(serverStatic.public);
          noise.mix(Curve.sharedKey(serverStatic.private, clientEphemeral));
          const payloadEnc = noise.encrypt(certChain(serverStatic.public));
          writeFrame(
            ws,
            proto.HandshakeMessage.encode({
              serverHello: { ephemeral: serverEphemeral.public, static: staticEnc, payload: payloadEnc },
            }).finish(),
          );
          stage = 'finish';
        } else if (stage === 'finish') {
          const { clientFinish } = proto.HandshakeMessage.decode(frame);
          const clientStatic = noise!.decrypt(clientFinish!.static!);
          noise!.mix(Curve.sharedKey(serverEphemeral!.private, clientStatic));
          const payload = proto.ClientPayload.decode(noise!.decrypt(clientFinish!.payload!));
          conn.clientStatic = Buffer.from(clientStatic);
          conn.username = payload.username == null ? undefined : String(payload.username);
          const { clientWrite, clientRead } = noise!.split();
          conn.setTransport(clientRead, clientWrite);
          stage = 'transport';
          conn.index = this.connections.length;
          this.connections.push(conn);
          for (const w of this.#waiters.filter((x) => x.count <= this.connections.length)) {
            this.#waiters.splice(this.#waiters.indexOf(w), 1);
            w.resolve(this.connections[w.count - 1]!);
          }
          if (conn.username === undefined) {
            // A registration: offer QR references, as WhatsApp does for a device that is not paired.
            conn.send({
              tag: 'iq',
              attrs: { id: `pair-${conn.index}`, type: 'set', from: 's.whatsapp.net', xmlns: 'md' },
              content: [
                {
                  tag: 'pair-device',
                  attrs: {},
                  content: ['REF-1', 'REF-2', 'REF-3'].map((ref) => ({
                    tag: 'ref',
                    attrs: {},
                    content: Buffer.from(ref),
                  })),
                },
              ],
            });
            return;
          }
          const t = String(Math.floor(Date.now() / 1000));
          conn.send({ tag: 'success', attrs: { t, lid: this.#lid } });
          // The real server ends the offline backlog with this; Baileys buffers events until it arrives.
          conn.send({ tag: 'ib', attrs: {}, content: [{ tag: 'offline', attrs: { count: '0' } }] });
          this.onLogin?.(conn);
        } else {
          const node = await decodeBinaryNode(conn.decrypt(frame));
          if (!conn.silent) this.#answer(conn, node);
        }
      }
    };
  }

  #answer(conn: WaConnection, node: BinaryNode): void {
    if (node.tag === 'message') {
      this.#onMessage(conn, node);
      return;
    }
    if (node.tag !== 'iq' || !node.attrs.id) return;
    if (node.attrs.type === 'result' || node.attrs.type === 'error') {
      conn.replied(node.attrs.id);
      return;
    }
    this.onRequest?.(node);
    const first = Array.isArray(node.content) ? node.content[0] : undefined;
    let content: BinaryNode[] | undefined;
    switch (node.attrs.xmlns) {
      case 'w:p':
        this.pings++;
        break;
      case 'encrypt':
        if (first?.tag === 'count') content = [{ tag: 'count', attrs: { value: '100' } }];
        if (first?.tag === 'digest') content = [{ tag: 'digest', attrs: {} }];
        break;
      case 'usync':
        content = [
          { tag: 'usync', attrs: {}, content: [{ tag: 'list', attrs: {}, content: this.#usync(node) }] },
        ];
        break;
    }
    conn.send({
      tag: 'iq',
      attrs: { id: node.attrs.id, type: 'result', from: 's.whatsapp.net' },
      ...(content ? { content } : {}),
    });
  }

  /** Contact lookups answer "in" unless the number is in notOnWhatsApp; device lookups answer no devices. */
  #usync(node: BinaryNode): BinaryNode[] {
    const usync = getBinaryNodeChild(node, 'usync');
    const query = getBinaryNodeChild(usync, 'query');
    const wantsContact = Boolean(getBinaryNodeChild(query, 'contact'));
    const list = getBinaryNodeChild(usync, 'list');
    const users = Array.isArray(list?.content) ? list.content : [];
    return users.map((user) => {
      const contact = getBinaryNodeChild(user, 'contact');
      const phone =
        typeof contact?.content === 'string'
          ? contact.content
          : contact?.content
            ? Buffer.from(contact.content as Uint8Array).toString()
            : undefined;
      const digits = phone ? phone.replace(/\D/g, '') : userOf(user.attrs.jid ?? '');
      const jid = user.attrs.jid ?? `${digits}@s.whatsapp.net`;
      const content: BinaryNode[] = [];
      if (wantsContact) {
        content.push({ tag: 'contact', attrs: { type: this.notOnWhatsApp.has(digits) ? 'out' : 'in' } });
      }
      return { tag: 'user', attrs: { jid }, content };
    });
  }

  #onMessage(conn: WaConnection, node: BinaryNode): void {
    const id = node.attrs.id!;
    const to = node.attrs.to!;
    this.received.push({ id, to, connection: conn.index, at: Date.now() });
    const t = String(Math.floor(Date.now() / 1000));
    const ack = this.ack;
    if (ack === 'hold') return;
    if (typeof ack === 'object') {
      conn.send({ tag: 'ack', attrs: { class: 'message', id, from: to, t, error: String(ack.error) } });
      return;
    }
    conn.send({ tag: 'ack', attrs: { class: 'message', id, from: to, t } });
    this.receipts.forEach((kind, i) => {
      setTimeout(
        () =>
          conn.send({
            tag: 'receipt',
            attrs: { id, from: to, t, ...(kind === 'read' ? { type: 'read' } : {}) },
          }),
        this.receiptDelayMs * (i + 1),
      );
    });
  }
}
