// A service with Baileys masters, wired by createSwitchboard: an unpaired number waits in
// "failed.needsRepair" with the command that fixes it while the rest of the fleet serves; the
// test-only endpoint cannot be switched on by a config file, outside tests, or off this machine.
import { afterEach, describe, expect, it } from 'vitest';
import { checkTestEndpoint } from '../../actors/transports/baileys/index.ts';
import { buildApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { createSwitchboard, type Switchboard } from '../../src/switchboard.ts';
import { quietLog, seedPairedAuth, tempDataDir } from '../support/baileys.ts';
import { PHONES, RECIPIENTS } from '../support/system.ts';
import { WaEndpoint } from '../support/wa-endpoint.ts';

const [A, B, C] = PHONES as [string, string, string];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function config(dataDir: string) {
  return parseConfig({
    masters: [
      { phone: A, priority: 1, transport: 'baileys' },
      { phone: B, priority: 2, transport: 'baileys' },
      { phone: C, priority: 3, transport: 'sim' },
    ],
    health: { intervalMs: 200, timeoutMs: 500, recoveryThreshold: 1 },
    baileys: { openTimeoutMs: 1_500 },
    dataDir,
  });
}

describe('createSwitchboard with Baileys masters', () => {
  it('an unpaired number starts in "failed.needsRepair" saying "switchboard pair <phone>"; the paired and sim masters serve', async () => {
    const data = tempDataDir();
    const endpoint = await WaEndpoint.start();
    cleanups.push(
      () => data.remove(),
      () => endpoint.close(),
    );
    await seedPairedAuth(data.dir, B); // A has no credentials
    const sb: Switchboard = await createSwitchboard(config(data.dir), {
      log: quietLog,
      fsync: false,
      baileys: { testEndpoint: () => endpoint.url, fsync: false },
    });
    cleanups.push(() => sb.stop(100));
    await until('A needs repair, B and C healthy', () => {
      const [a, b, c] = [A, B, C].map((p) => sb.getMasterStatus(p));
      return a?.detail === 'needsRepair' && b?.state === 'healthy' && c?.state === 'healthy';
    });
    const a = sb.getMasterStatus(A);
    expect(a).toMatchObject({ state: 'failed', detail: 'needsRepair', transport: 'baileys', paired: false });
    expect(a.reason).toContain(`pair this number: switchboard pair ${A}`);
    expect(sb.getMasterStatus(B)).toMatchObject({ paired: true });
    expect(sb.getMasterStatus(C)).toMatchObject({ paired: null });
    expect(endpoint.connections.map((c) => c.username)).toEqual([B.slice(1)]); // only B ever connected

    const { id } = await sb.send({ to: RECIPIENTS[0]!, text: 'still served' });
    await until('sent', async () => ['sent', 'delivered'].includes((await sb.getMessage(id))?.status ?? ''));
    expect((await sb.getMessage(id))?.master).not.toBe(A);

    const app = await buildApp({ switchboard: sb, log: quietLog });
    cleanups.push(() => app.close());
    const res = await app.inject({ method: 'GET', url: '/api/masters' });
    expect(
      res.json().masters.map((m: { phone: string; paired: boolean | null }) => [m.phone, m.paired]),
    ).toEqual([
      [A, false],
      [B, true],
      [C, null],
    ]);
  });

  it('after "switchboard pair" wrote credentials, a reset connects the number', async () => {
    const data = tempDataDir();
    const endpoint = await WaEndpoint.start();
    cleanups.push(
      () => data.remove(),
      () => endpoint.close(),
    );
    const sb = await createSwitchboard(config(data.dir), {
      log: quietLog,
      fsync: false,
      baileys: { testEndpoint: () => endpoint.url, fsync: false },
    });
    cleanups.push(() => sb.stop(100));
    await until('A needs repair', () => sb.getMasterStatus(A).detail === 'needsRepair');
    await seedPairedAuth(data.dir, A);
    expect(sb.getMasterStatus(A).paired).toBe(true);
    sb.manualReset(A);
    await until('A healthy', () => sb.getMasterStatus(A).state === 'healthy');
  });

  it('the config file cannot set a Baileys endpoint: it is not a config field', () => {
    expect(() => parseConfig({ baileys: { endpoint: 'ws://127.0.0.1:1/ws/chat' } })).toThrow(
      /baileys: Unrecognized key: "endpoint"/,
    );
    expect(parseConfig({}).baileys).toEqual({
      logLevel: 'warn',
      openTimeoutMs: 20_000,
      keepAliveIntervalMs: 30_000,
    });
  });

  it('refuses a test endpoint outside NODE_ENV=test, off loopback or not ws://', () => {
    expect(checkTestEndpoint('ws://127.0.0.1:4000/ws/chat')).toBe('ws://127.0.0.1:4000/ws/chat');
    expect(() => checkTestEndpoint('ws://10.1.2.3:4000/ws/chat')).toThrow(/loopback/);
    expect(() => checkTestEndpoint('wss://127.0.0.1:4000/ws/chat')).toThrow(/loopback/);
    expect(() => checkTestEndpoint('ws://web.whatsapp.com.evil/ws')).toThrow(/loopback/);
    const env = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => checkTestEndpoint('ws://127.0.0.1:4000/ws/chat')).toThrow(/NODE_ENV is not "test"/);
    } finally {
      process.env.NODE_ENV = env;
    }
  });

  it('a refused test endpoint stops the start and releases the data dir', async () => {
    const data = tempDataDir();
    cleanups.push(() => data.remove());
    await expect(
      createSwitchboard(config(data.dir), {
        log: quietLog,
        fsync: false,
        baileys: { testEndpoint: () => 'ws://192.168.1.10:443/ws/chat' },
      }),
    ).rejects.toMatchObject({ code: 'SB_ERR_CONFIG' });
    const sb = await createSwitchboard(config(data.dir), { log: quietLog, fsync: false });
    await sb.stop(0);
  });
});
