// `switchboard pair <phone>`: links a number as a new device (QR in the terminal, or a pairing
// code), in a staging directory that replaces the master's credentials only once pairing succeeded.
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import makeWASocket, { type WASocket } from 'baileys';
import { SwitchboardError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/logger.ts';
import { type DataDirLock, lockDataDir } from '../../../src/store/lock.ts';
import { AuthStore, authDir, readPaired } from './auth-store.ts';

export interface PairOptions {
  dataDir: string;
  /** E.164, already normalised. */
  phone: string;
  /** 'qr': show QR codes to scan; 'code': print an 8-character code to type on the phone. */
  method: 'qr' | 'code';
  log: Logger;
  /** Shows a QR code (the CLI draws it with qrcode-terminal). */
  showQr: (qr: string) => void;
  /** Shows the pairing code. */
  showCode: (code: string) => void;
  /** Gives up after this long (default 3 minutes). */
  timeoutMs?: number;
  /** Pair again even if the number has credentials (they are replaced only on success). */
  force?: boolean;
  /** TEST ONLY (see BaileysOptions.testEndpoint); already checked by the caller. */
  endpoint?: string;
  fsync?: boolean;
}

/** The restart WhatsApp asks for right after a successful pairing, and how often we follow it. */
const RESTART_REQUIRED = 515;
const MAX_RESTARTS = 3;

/** Pairs `phone`; resolves with the linked device's JID once its credentials are stored. */
export async function pairNumber(options: PairOptions): Promise<{ jid: string }> {
  const { phone } = options;
  const target = authDir(options.dataDir, phone);
  if (!options.force && readPaired(target)) {
    throw new SwitchboardError(
      'SB_ERR_CONFIG',
      `${phone} is already paired (${target}); --force pairs it again`,
    );
  }
  // Replacing credentials a running service uses would be undone by its next write: hold the data
  // dir's lock (the service's) while pairing again. A first pairing may run beside the service.
  let lock: DataDirLock | undefined;
  if (readPaired(target)) {
    try {
      lock = lockDataDir(options.dataDir);
    } catch (err) {
      throw new SwitchboardError(
        'SB_ERR_STORE_LOCKED',
        `${phone} is paired and its data dir is in use: stop the service before pairing it again (${(err as Error).message})`,
        500,
        { cause: err },
      );
    }
  }
  try {
    return await pairInto(options, target);
  } finally {
    lock?.release();
  }
}

async function pairInto(options: PairOptions, target: string): Promise<{ jid: string }> {
  const { phone, log } = options;
  const staging = join(dirname(target), `.pairing-${phone}-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  const store = await AuthStore.open(staging, { fsync: options.fsync ?? true });
  const digits = phone.replace(/^\+/, '');
  const baileysLog = log.child(
    { component: 'baileys' },
    { level: log.level === 'silent' ? 'silent' : 'warn' },
  );
  let sock: WASocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const jid = await new Promise<string>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new SwitchboardError(
              'SB_ERR_CONFIG',
              `no pairing within ${(options.timeoutMs ?? 180_000) / 1000} s`,
            ),
          ),
        options.timeoutMs ?? 180_000,
      );
      let restarts = 0;
      let codeRequested = false;
      const start = () => {
        const current = makeWASocket({
          auth: store.state,
          logger: baileysLog,
          ...(options.endpoint ? { waWebSocketUrl: options.endpoint } : {}),
          markOnlineOnConnect: false,
          syncFullHistory: false,
        });
        sock = current;
        current.ev.on('creds.update', () => {
          store.saveCreds().catch((err: unknown) => log.error({ err }, 'could not save credentials'));
        });
        current.ev.on('connection.update', (update) => {
          if (update.qr) {
            if (options.method === 'qr') options.showQr(update.qr);
            else if (!codeRequested) {
              // The server is ready for a pairing request once it offered QR references.
              codeRequested = true;
              current.requestPairingCode(digits).then(options.showCode, reject);
            }
          }
          if (update.connection === 'open') {
            const me = store.state.creds.me?.id ?? '';
            resolve(me);
          } else if (update.connection === 'close') {
            const error = update.lastDisconnect?.error as {
              output?: { statusCode?: number };
              message?: string;
            };
            const code = error?.output?.statusCode;
            if (code === RESTART_REQUIRED && restarts++ < MAX_RESTARTS) {
              log.info('paired: WhatsApp asked for a restart, connecting again');
              return start();
            }
            reject(
              new SwitchboardError(
                'SB_ERR_CONFIG',
                `pairing failed: connection closed${code ? ` (${code})` : ''}: ${error?.message ?? 'no reason given'}`,
              ),
            );
          }
        });
      };
      start();
    });
    // Let the writes that follow a login (own LID mapping) land, then stop the socket before the swap.
    await new Promise((r) => setTimeout(r, 200));
    if (sock) await endQuietly(sock);
    sock = undefined;
    await store.flush();
    if (!store.paired) throw new SwitchboardError('SB_ERR_CONFIG', 'pairing ended without credentials');
    const linked = jid.split('@')[0]?.split(':')[0];
    if (linked !== digits) {
      throw new SwitchboardError(
        'SB_ERR_CONFIG',
        `the phone that paired is +${linked}, not ${phone}: nothing was stored; pair with the phone of ${phone}`,
      );
    }
    await install(staging, target);
    return { jid };
  } finally {
    clearTimeout(timer);
    if (sock) await endQuietly(sock);
    await store.flush();
    await rm(staging, { recursive: true, force: true });
  }
}

/** Puts the staged credentials in place of the old ones (rename is atomic; the swap is two renames). */
async function install(staging: string, target: string): Promise<void> {
  const old = `${target}.replaced-${process.pid}`;
  if (existsSync(target)) await rename(target, old);
  await rename(staging, target);
  await rm(old, { recursive: true, force: true });
}

async function endQuietly(sock: WASocket): Promise<void> {
  await Promise.race([sock.end(undefined).catch(() => undefined), new Promise((r) => setTimeout(r, 1_000))]);
  (sock.ws as unknown as { socket?: { terminate?: () => void } | null }).socket?.terminate?.();
}
