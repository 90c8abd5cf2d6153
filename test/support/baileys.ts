// Baileys test helpers: paired credentials on disk, a BaileysTransport against a loopback endpoint,
// and a master actor over it in real time (Baileys has real sockets and timers).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Curve, proto } from 'baileys';
import pino from 'pino';
import { type Actor, createActor, waitFor } from 'xstate';
import { createMasterLogic } from '../../actors/master.actor.ts';
import { stateLabel } from '../../actors/master-log.ts';
import { AuthStore, authDir } from '../../actors/transports/baileys/auth-store.ts';
import {
  BaileysTransport,
  type BaileysTransportOptions,
} from '../../actors/transports/baileys/baileys.transport.ts';
import type { MasterEmitted, MasterSettings } from '../../machines/master.machine.ts';
import { trustEndpointRoot, type WaEndpoint } from './wa-endpoint.ts';

trustEndpointRoot();

export const quietLog = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export function tempDataDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-baileys-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 }) };
}

/** Writes credentials of an already paired device for `phone`, as `switchboard pair` would leave them. */
export async function seedPairedAuth(dataDir: string, phone: string, fsync = false): Promise<void> {
  const store = await AuthStore.open(authDir(dataDir, phone), { fsync });
  const digits = phone.replace(/^\+/, '');
  const accountKey = Curve.generateKeyPair();
  store.state.creds.me = { id: `${digits}:7@s.whatsapp.net`, name: 'switchboard test' };
  store.state.creds.account = proto.ADVSignedDeviceIdentity.create({
    details: Buffer.from('test device identity'),
    accountSignatureKey: Buffer.from(accountKey.public),
    accountSignature: Buffer.alloc(64),
    deviceSignature: Buffer.alloc(64),
  });
  store.state.creds.registered = true;
  await store.saveCreds();
}

export function baileysTransport(
  dataDir: string,
  phone: string,
  endpoint: WaEndpoint | string,
  overrides: Partial<BaileysTransportOptions> = {},
): BaileysTransport {
  return new BaileysTransport({
    phone,
    authDir: authDir(dataDir, phone),
    log: quietLog,
    openTimeoutMs: 3_000,
    probeTimeoutMs: 1_000,
    keepAliveIntervalMs: 30_000,
    queryTimeoutMs: 2_000,
    fsync: false,
    endpoint: typeof endpoint === 'string' ? endpoint : endpoint.url,
    ...overrides,
  });
}

/** Fast real-time health settings for tests: probes every 150 ms, a 400 ms timeout. */
export const FAST_SETTINGS: Partial<MasterSettings> = {
  probeIntervalMs: 150,
  probeTimeoutMs: 400,
  failureThreshold: 3,
  recoveryThreshold: 1,
  degradedLatencyMs: 300,
  recoveryTimeoutMs: 5_000,
  maxRecoveryAttempts: 5,
  backoffBaseMs: 100,
  backoffMaxMs: 500,
};

export function baileysMaster(
  transport: BaileysTransport,
  settings: Partial<MasterSettings> = FAST_SETTINGS,
) {
  const logic = createMasterLogic({ transportFor: () => transport });
  const actor: Actor<typeof logic> = createActor(logic, {
    input: { phone: transport.phone, settings },
  });
  const states: string[] = [];
  const facts: MasterEmitted[] = [];
  actor.subscribe((s) => {
    const name = stateLabel(s.value);
    if (states.at(-1) !== name) states.push(name);
  });
  actor.on('*', (e) => facts.push(e));
  actor.start();
  const state = () => stateLabel(actor.getSnapshot().value);
  return {
    actor,
    states,
    facts,
    state,
    context: () => actor.getSnapshot().context,
    /** Waits (real time) until the master's state label satisfies `test`. */
    reach: async (test: string | ((label: string) => boolean), timeout = 10_000) => {
      const ok = typeof test === 'string' ? (label: string) => label === test : test;
      await waitFor(actor, (s) => ok(stateLabel(s.value)), { timeout });
      return state();
    },
    stop: async () => {
      actor.stop();
      await transport.close();
    },
  };
}
