// The per-master auth store: Baileys v7's key types survive a restart byte for byte, writes are
// atomic and ordered, and a damaged file is refused rather than replaced by fresh credentials.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BufferJSON, proto, type SignalDataSet } from 'baileys';
import { afterEach, describe, expect, it } from 'vitest';
import { AuthStore, authDir, readPaired } from '../../../actors/transports/baileys/auth-store.ts';
import { seedPairedAuth, tempDataDir } from '../../support/baileys.ts';

const A = '+15550001111';
let removes: (() => void)[] = [];
afterEach(() => {
  for (const r of removes) r();
  removes = [];
});

function dir(): string {
  const d = tempDataDir();
  removes.push(d.remove);
  return authDir(d.dir, A);
}

const bytes = (n: number, fill: number) => Buffer.alloc(n, fill);

/** One value of every key type Baileys 7 stores, Buffers and Uint8Arrays included. */
const EVERY_KEY_TYPE: SignalDataSet = {
  'pre-key': { '1': { public: bytes(32, 1), private: bytes(32, 2) } },
  session: { '15550002222.0': new Uint8Array(bytes(40, 3)) },
  'sender-key': { '1234@g.us::15550002222::0': new Uint8Array(bytes(24, 4)) },
  'sender-key-memory': { '1234@g.us': { '15550002222:0@s.whatsapp.net': true } },
  'app-state-sync-key': {
    AAAAAQ: proto.Message.AppStateSyncKeyData.fromObject({
      keyData: bytes(32, 5),
      timestamp: 1_700_000_000,
    }),
  },
  'app-state-sync-version': {
    regular: { version: 3, hash: bytes(128, 6), indexValueMap: { abc: { valueMac: bytes(32, 7) } } },
  },
  'lid-mapping': { '15550002222': '99999999999999', '99999999999999_reverse': '15550002222' },
  'device-list': { '15550002222': ['0', '3'] },
  tctoken: { '99999999999999@lid': { token: bytes(16, 8), timestamp: '1700000000' } },
  'identity-key': { '15550002222.0': new Uint8Array(bytes(33, 9)) },
};

describe('auth store', () => {
  it('keeps every Baileys v7 key type across a reopen, Buffers byte for byte', async () => {
    const d = dir();
    const store = await AuthStore.open(d, { fsync: false });
    await store.state.keys.set(EVERY_KEY_TYPE);
    const reopened = await AuthStore.open(d, { fsync: false });
    for (const [type, entries] of Object.entries(EVERY_KEY_TYPE)) {
      const ids = Object.keys(entries!);
      const got = await reopened.state.keys.get(type as keyof typeof EVERY_KEY_TYPE, ids);
      for (const id of ids) {
        const want = (entries as Record<string, unknown>)[id];
        // compared in BufferJSON form: a Uint8Array written comes back as an equal Buffer
        expect(JSON.stringify(got[id], BufferJSON.replacer), `${type} ${id}`).toBe(
          JSON.stringify(want, BufferJSON.replacer),
        );
      }
    }
    const session = (await reopened.state.keys.get('session', ['15550002222.0']))['15550002222.0'];
    expect(Buffer.isBuffer(session)).toBe(true);
    const token = (await reopened.state.keys.get('tctoken', ['99999999999999@lid']))['99999999999999@lid'];
    expect(token?.token).toEqual(bytes(16, 8));
    const appKey = (await reopened.state.keys.get('app-state-sync-key', ['AAAAAQ'])).AAAAAQ;
    expect(appKey).toBeInstanceOf(proto.Message.AppStateSyncKeyData);
  });

  it('names key files so JIDs with ":" "/" "@" stay one flat, reversible file each', async () => {
    const d = dir();
    const store = await AuthStore.open(d, { fsync: false });
    await store.state.keys.set({ session: { 'a/b:c@d.0': new Uint8Array([1]) } });
    expect(readdirSync(d)).toContain('session-a%2Fb%3Ac%40d.0.json');
  });

  it('a null value deletes the key, on disk too', async () => {
    const d = dir();
    const store = await AuthStore.open(d, { fsync: false });
    await store.state.keys.set({ 'pre-key': { '7': { public: bytes(32, 1), private: bytes(32, 2) } } });
    await store.state.keys.set({ 'pre-key': { '7': null } });
    expect(await store.state.keys.get('pre-key', ['7'])).toEqual({});
    expect(readdirSync(d).filter((f) => f.startsWith('pre-key'))).toEqual([]);
    const reopened = await AuthStore.open(d, { fsync: false });
    expect(await reopened.state.keys.get('pre-key', ['7'])).toEqual({});
  });

  it('writes to one key land in order: the last value set is the one on disk', async () => {
    const d = dir();
    const store = await AuthStore.open(d, { fsync: true });
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => store.state.keys.set({ 'device-list': { u: [String(i)] } })),
    );
    const reopened = await AuthStore.open(d, { fsync: false });
    expect(await reopened.state.keys.get('device-list', ['u'])).toEqual({ u: ['19'] });
    expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('saves credentials as written at the call, and a temp file left by a crash is dropped at open', async () => {
    const d = dir();
    const store = await AuthStore.open(d, { fsync: false });
    store.state.creds.me = { id: '15550001111:7@s.whatsapp.net' };
    const saved = store.saveCreds();
    store.state.creds.me = { id: 'changed-after-the-call' };
    await saved;
    writeFileSync(join(d, 'creds.json.123.0.tmp'), '{"torn');
    const reopened = await AuthStore.open(d, { fsync: false });
    expect(reopened.state.creds.me?.id).toBe('15550001111:7@s.whatsapp.net');
    expect(Buffer.isBuffer(reopened.state.creds.noiseKey.public)).toBe(true);
    expect(reopened.state.creds.noiseKey.public).toEqual(store.state.creds.noiseKey.public);
    expect(readdirSync(d).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('refuses a damaged creds.json, naming it, instead of starting over with fresh credentials', async () => {
    const d = dir();
    const store = await AuthStore.open(d, { fsync: false });
    await store.saveCreds();
    writeFileSync(join(d, 'creds.json'), '{"noiseKey":');
    await expect(AuthStore.open(d)).rejects.toMatchObject({
      code: 'SB_ERR_STORE_CORRUPT',
      message: expect.stringContaining(join(d, 'creds.json')),
    });
    expect(readFileSync(join(d, 'creds.json'), 'utf8')).toBe('{"noiseKey":');
  });

  it('"paired" means a signed device identity, not just a number (a pairing code sets "me" first)', async () => {
    const d = tempDataDir();
    removes.push(d.remove);
    expect(readPaired(authDir(d.dir, A))).toBe(false);
    const half = await AuthStore.open(authDir(d.dir, A), { fsync: false });
    half.state.creds.me = { id: '15550001111@s.whatsapp.net', name: '~' };
    await half.saveCreds();
    expect(readPaired(authDir(d.dir, A))).toBe(false);
    await seedPairedAuth(d.dir, A);
    expect(readPaired(authDir(d.dir, A))).toBe(true);
    expect((await AuthStore.open(authDir(d.dir, A))).paired).toBe(true);
  });
});
