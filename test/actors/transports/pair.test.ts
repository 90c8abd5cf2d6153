// `switchboard pair` through a real Baileys socket: the loopback endpoint plays WhatsApp and the
// phone (it signs the device identity for the keys in the QR), then asks for the 515 restart.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { authDir, readPaired } from '../../../actors/transports/baileys/index.ts';
import { type PairOptions, pairNumber } from '../../../actors/transports/baileys/pair.ts';
import { quietLog, seedPairedAuth, tempDataDir } from '../../support/baileys.ts';
import { WaEndpoint } from '../../support/wa-endpoint.ts';

const A = '+15550001111';
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function setup() {
  const data = tempDataDir();
  const endpoint = await WaEndpoint.start();
  cleanups.push(() => data.remove());
  cleanups.push(() => endpoint.close());
  const qrs: string[] = [];
  const codes: string[] = [];
  const pair = (overrides: Partial<PairOptions> = {}) =>
    pairNumber({
      dataDir: data.dir,
      phone: A,
      method: 'qr',
      log: quietLog,
      endpoint: endpoint.url,
      fsync: false,
      timeoutMs: 5_000,
      showQr: (qr) => qrs.push(qr),
      showCode: (code) => codes.push(code),
      ...overrides,
    });
  return { data, endpoint, qrs, codes, pair };
}

/** The phone of `phone` scans the first QR shown. */
function scanWith(endpoint: WaEndpoint, qrs: string[], phone: string) {
  return (qr: string) => {
    qrs.push(qr);
    if (qrs.length === 1) setTimeout(() => endpoint.scan(qr, phone), 20);
  };
}

describe('switchboard pair', () => {
  it('shows a QR, and once it is scanned stores paired credentials that log in as the number', async () => {
    const { data, endpoint, qrs, pair } = await setup();
    const result = await pair({ showQr: scanWith(endpoint, qrs, A) });
    expect(qrs[0]).toMatch(/^https:\/\/wa\.me\/settings\/linked_devices#REF-1,/);
    expect(result.jid).toBe('15550001111:7@s.whatsapp.net');
    expect(readPaired(authDir(data.dir, A))).toBe(true);
    // first a registration (no username), then, after the 515 restart, a login as the number
    expect(endpoint.connections.map((c) => c.username)).toEqual([undefined, '15550001111']);
    expect(readdirSync(join(data.dir, 'auth'))).toEqual([A]); // no staging directory left behind
  });

  it('refuses a number that is already paired unless --force, and --force replaces the credentials', async () => {
    const { data, endpoint, qrs, pair } = await setup();
    await seedPairedAuth(data.dir, A);
    const before = readFileSync(join(authDir(data.dir, A), 'creds.json'), 'utf8');
    await expect(pair()).rejects.toThrow(/already paired/);
    expect(endpoint.connections).toHaveLength(0);
    await pair({ force: true, showQr: scanWith(endpoint, qrs, A) });
    expect(readFileSync(join(authDir(data.dir, A), 'creds.json'), 'utf8')).not.toBe(before);
    expect(readPaired(authDir(data.dir, A))).toBe(true);
  });

  it('pairs a new number beside a running service, but pairs a paired one again only once the service stopped', async () => {
    const { data, endpoint, qrs, pair } = await setup();
    writeFileSync(join(data.dir, 'switchboard.lock'), `${process.ppid}\n`); // a live process holds the data dir
    await pair({ showQr: scanWith(endpoint, qrs, A) });
    expect(readPaired(authDir(data.dir, A))).toBe(true);
    await expect(pair({ force: true })).rejects.toThrow(/stop the service before pairing it again/);
    expect(readFileSync(join(data.dir, 'switchboard.lock'), 'utf8')).toBe(`${process.ppid}\n`);
  });

  it('a pairing that is never completed times out and leaves the old credentials as they were', async () => {
    const { data, qrs, pair } = await setup();
    await seedPairedAuth(data.dir, A);
    const before = readFileSync(join(authDir(data.dir, A), 'creds.json'), 'utf8');
    await expect(pair({ force: true, timeoutMs: 600 })).rejects.toThrow(/no pairing within 0.6 s/);
    expect(qrs.length).toBeGreaterThan(0);
    expect(readFileSync(join(authDir(data.dir, A), 'creds.json'), 'utf8')).toBe(before);
    expect(readdirSync(join(data.dir, 'auth'))).toEqual([A]);
  });

  it('refuses credentials of another phone (the wrong phone scanned the QR) and stores nothing', async () => {
    const { data, endpoint, qrs, pair } = await setup();
    await expect(pair({ showQr: scanWith(endpoint, qrs, '+15559998888') })).rejects.toThrow(
      /the phone that paired is \+15559998888, not \+15550001111/,
    );
    expect(existsSync(authDir(data.dir, A))).toBe(false);
    expect(readdirSync(join(data.dir, 'auth'))).toEqual([]);
  });

  it('--code asks WhatsApp for a pairing code and shows it instead of a QR', async () => {
    const { endpoint, qrs, codes, pair } = await setup();
    const requests: string[] = [];
    endpoint.onRequest = (node) => {
      const child = Array.isArray(node.content) ? node.content[0] : undefined;
      if (child?.tag === 'link_code_companion_reg') requests.push(child.attrs.jid ?? '');
    };
    await expect(pair({ method: 'code', timeoutMs: 800 })).rejects.toThrow(/no pairing/);
    expect(codes).toHaveLength(1);
    expect(codes[0]).toMatch(/^[A-Z0-9]{8}$/);
    expect(requests).toEqual(['15550001111@s.whatsapp.net']);
    expect(qrs).toEqual([]);
  });
});
