// The Baileys transport through a real Baileys socket against the loopback endpoint, driving a
// master actor in real time: what each server behaviour does to the master's state.
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Receipt } from '../../../actors/transport.ts';
import { SendError } from '../../../actors/transport.ts';
import { AuthStore, authDir } from '../../../actors/transports/baileys/auth-store.ts';
import type { BaileysTransport } from '../../../actors/transports/baileys/baileys.transport.ts';
import {
  baileysMaster,
  baileysTransport,
  FAST_SETTINGS,
  seedPairedAuth,
  tempDataDir,
} from '../../support/baileys.ts';
import { WaEndpoint } from '../../support/wa-endpoint.ts';

const A = '+15550001111';
const TO = '+15550002222';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

async function setup(
  options: {
    paired?: boolean;
    endpoint?: Parameters<typeof WaEndpoint.start>[0];
    openTimeoutMs?: number;
    refuseUpgradeWith?: number;
  } = {},
) {
  const data = tempDataDir();
  const endpoint = await WaEndpoint.start(options.endpoint);
  if (options.refuseUpgradeWith) endpoint.refuseUpgradeWith = options.refuseUpgradeWith;
  cleanups.push(() => data.remove());
  cleanups.push(() => endpoint.close());
  if (options.paired !== false) await seedPairedAuth(data.dir, A);
  const transport = baileysTransport(data.dir, A, endpoint, {
    ...(options.openTimeoutMs ? { openTimeoutMs: options.openTimeoutMs } : {}),
  });
  const master = baileysMaster(transport);
  cleanups.push(master.stop);
  return { data, endpoint, transport, master };
}

function send(
  transport: BaileysTransport,
  messageId: string,
  to = TO,
  signal = new AbortController().signal,
) {
  return transport.send({ messageId, to, text: `text of ${messageId}` }, signal);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Baileys transport against a loopback WhatsApp endpoint', () => {
  it('a socket that reaches "open" makes the master "healthy", and probes are ping iqs', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    expect(endpoint.connections).toHaveLength(1);
    expect(endpoint.connections[0]?.username).toBe('15550001111');
    const pings = endpoint.pings;
    await sleep(400);
    expect(endpoint.pings).toBeGreaterThan(pings);
    expect(master.state()).toBe('healthy');
  });

  it('stream error 515 restarts at once: "recovering", then "healthy" on a new socket with the same credentials', async () => {
    const { data, endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.current!.streamError(515);
    await master.reach((s) => s.startsWith('recovering'));
    await master.reach('healthy');
    expect(endpoint.connections).toHaveLength(2);
    const creds = (await AuthStore.open(authDir(data.dir, A))).state.creds;
    expect(endpoint.connections[1]!.clientStatic).toEqual(endpoint.connections[0]!.clientStatic);
    expect(endpoint.connections[1]!.clientStatic).toEqual(Buffer.from(creds.noiseKey.public));
    expect(master.states.some((s) => s === 'degraded' || s.startsWith('failed'))).toBe(false);
  });

  it('a TCP drop (428) goes to "recovering" at once and back to "healthy" on a new socket', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.current!.drop();
    // at once: not after failed probes (the states below never pass through "degraded")
    await master.reach((s) => s.startsWith('recovering'));
    await master.reach('healthy');
    expect(endpoint.connections).toHaveLength(2);
    expect(master.states.some((s) => s === 'degraded' || s.startsWith('failed'))).toBe(false);
    expect(master.context().lastCloseCode).toBeNull(); // cleared once healthy again
    expect(master.states).toContain('recovering.connecting');
  });

  it('a conflict (440: another session holds the credentials) lands in "failed.needsRepair" and never reconnects', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.current!.conflict();
    await master.reach('failed.needsRepair');
    expect(master.context().lastError).toMatch(/\(440\): replaced by another session/);
    await sleep(600);
    expect(endpoint.connections).toHaveLength(1);
    expect(master.state()).toBe('failed.needsRepair');
  });

  it('stream error 401 (logged out) lands in "failed.needsRepair"', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.current!.streamError(401);
    await master.reach('failed.needsRepair');
    expect(master.context().lastError).toMatch(/\(401\): logged out/);
    expect(master.facts.find((f) => f.type === 'master.failed')).toMatchObject({ permanent: true });
  });

  it('<failure reason=403> (forbidden) lands in "failed.needsRepair"', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.current!.failure(403);
    await master.reach('failed.needsRepair');
    expect(master.context().lastError).toMatch(/\(403\): forbidden/);
  });

  it('<failure reason=405> (client version refused) lands in "failed.needsRepair" saying to upgrade', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.current!.failure(405);
    await master.reach('failed.needsRepair');
    expect(master.context().lastError).toMatch(/\(405\).*upgrade/);
  });

  it('an unknown stream error (500) is retried: "recovering", then "healthy" again', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.current!.unknownStreamError();
    await master.reach((s) => s.startsWith('recovering'));
    await master.reach('healthy');
    expect(endpoint.connections).toHaveLength(2);
    expect(master.states.some((s) => s === 'degraded' || s.startsWith('failed'))).toBe(false);
  });

  it('500 on every connection gives up after 3 attempts: "failed.needsRepair"', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    endpoint.onLogin = (conn) => setTimeout(() => conn.unknownStreamError(), 30);
    endpoint.current!.unknownStreamError();
    await master.reach('failed.needsRepair');
    expect(master.context().lastError).toMatch(/\(500\), again after 3 attempts: bad session/);
    expect(master.context().recoveryAttempts).toBe(3);
    const connections = endpoint.connections.length;
    await sleep(500);
    expect(endpoint.connections).toHaveLength(connections);
  });

  it('a silent endpoint is caught by the probe within its timeout: "degraded", then "failed", then healthy on a new socket', async () => {
    const { endpoint, master } = await setup();
    await master.reach('healthy');
    const started = Date.now();
    endpoint.current!.silent = true;
    await master.reach('degraded');
    // the next probe starts within one interval and fails at its timeout
    expect(Date.now() - started).toBeLessThan(
      FAST_SETTINGS.probeIntervalMs! + FAST_SETTINGS.probeTimeoutMs! + 600,
    );
    expect(master.context().lastError).toMatch(/probe timed out after 400 ms/);
    await master.reach('failed.backoff');
    await master.reach('healthy');
    expect(endpoint.connections).toHaveLength(2);
  });

  it('an endpoint that answers the upgrade with HTTP 503 is caught by the open watchdog, not left hanging', async () => {
    const { endpoint, master } = await setup({ refuseUpgradeWith: 503, openTimeoutMs: 500 });
    const started = Date.now();
    await master.reach('failed.backoff', 4_000);
    // well before the machine's own recovery timeout (5 s): the transport's watchdog ended it
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(master.context().lastError).toMatch(/no "open" within 500 ms \(watchdog\)/);
    // the hung upgrade's TCP connection was closed, not leaked
    await expect.poll(() => endpoint.refusedClosed, { timeout: 300 }).toBeGreaterThanOrEqual(1);
    endpoint.refuseUpgradeWith = null;
    await master.reach('healthy', 5_000);
  });

  it('a master without credentials starts in "failed.needsRepair" saying how to pair it, and never connects', async () => {
    const { endpoint, master, transport } = await setup({ paired: false });
    await master.reach('failed.needsRepair');
    expect(master.context().lastError).toContain(`pair this number: switchboard pair ${A}`);
    expect(transport.paired).toBe(false);
    await sleep(300);
    expect(endpoint.connections).toHaveLength(0);
  });

  it('send() resolves on the server ack, and "delivered" then "read" arrive from the receipts', async () => {
    const { endpoint, master, transport } = await setup({
      endpoint: { receipts: ['delivered', 'read'], receiptDelayMs: 30 },
    });
    await master.reach('healthy');
    const receipts: Receipt[] = [];
    transport.onReceipt((r) => receipts.push(r));
    await send(transport, 'SB-OUR-ID-1');
    expect(endpoint.received.map((m) => m.id)).toEqual(['SB-OUR-ID-1']);
    expect(endpoint.received[0]!.to).toBe('15550002222@s.whatsapp.net');
    await expect.poll(() => receipts.length).toBe(2);
    expect(receipts).toEqual([
      { messageId: 'SB-OUR-ID-1', status: 'delivered' },
      { messageId: 'SB-OUR-ID-1', status: 'read' },
    ]);
  });

  it('send() waits for the ack, not the write; a TCP drop before the ack rejects it as ambiguous', async () => {
    const { endpoint, master, transport } = await setup({ endpoint: { ack: 'hold' } });
    await master.reach('healthy');
    let settled = false;
    const pending = send(transport, 'SB-HELD').finally(() => {
      settled = true;
    });
    await expect.poll(() => endpoint.received.length).toBe(1);
    await sleep(300);
    expect(settled).toBe(false);
    endpoint.current!.drop();
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendError);
    expect(err).toMatchObject({ ambiguous: true, recipientFault: false });
  });

  it('an ack with error 463 rejects the send (not ambiguous) and, reported as the dispatcher does, degrades the master', async () => {
    const { endpoint, master, transport } = await setup({ endpoint: { ack: { error: 463 } } });
    await master.reach('healthy');
    const err = await send(transport, 'SB-RESTRICTED').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SendError);
    expect(err).toMatchObject({ code: 463, ambiguous: false, recipientFault: false });
    expect(endpoint.received.map((m) => m.id)).toEqual(['SB-RESTRICTED']);
    const e = err as SendError;
    master.actor.send({ type: 'send.failed', reason: e.message, ...(e.code ? { code: e.code } : {}) });
    expect(master.state()).toBe('degraded');
    expect(master.context().lastError).toMatch(/restricted by WhatsApp \(463\)/);
  });

  it('a recipient who is not on WhatsApp is refused before anything is sent (recipientFault)', async () => {
    const { endpoint, master, transport } = await setup({ endpoint: { notOnWhatsApp: ['15550009999'] } });
    await master.reach('healthy');
    const err = await send(transport, 'SB-NOBODY', '+15550009999').catch((e: unknown) => e);
    expect(err).toMatchObject({ recipientFault: true, code: 404 });
    expect(endpoint.received).toHaveLength(0);
    await send(transport, 'SB-SOMEBODY');
    expect(endpoint.received.map((m) => m.id)).toEqual(['SB-SOMEBODY']);
  });

  it("Baileys' own records go through our logger at warn, recipients' numbers redacted", async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const data = tempDataDir();
    const endpoint = await WaEndpoint.start({ ack: { error: 463 } });
    cleanups.push(
      () => data.remove(),
      () => endpoint.close(),
    );
    await seedPairedAuth(data.dir, A);
    const transport = baileysTransport(data.dir, A, endpoint, { log });
    cleanups.push(() => transport.close());
    await transport.connect(new AbortController().signal);
    await send(transport, 'SB-LOGGED').catch(() => undefined);
    const baileys = lines.filter((l) => l.component === 'baileys');
    expect(baileys.length).toBeGreaterThan(0); // Baileys warns about the 463
    expect(baileys.every((l) => (l.level as number) >= 40)).toBe(true); // nothing below warn
    expect(baileys.every((l) => l.master === A)).toBe(true);
    expect(JSON.stringify(baileys)).not.toContain('15550002222');
    expect(JSON.stringify(baileys)).toContain('[redacted]');
  });

  it('close() during a hung connect ends it at once instead of at the watchdog', async () => {
    const data = tempDataDir();
    const endpoint = await WaEndpoint.start();
    endpoint.refuseUpgradeWith = 503;
    cleanups.push(
      () => data.remove(),
      () => endpoint.close(),
    );
    await seedPairedAuth(data.dir, A);
    const transport = baileysTransport(data.dir, A, endpoint, { openTimeoutMs: 10_000 });
    const connecting = transport.connect(new AbortController().signal).catch((e: unknown) => e);
    await sleep(200);
    const started = Date.now();
    await transport.close();
    expect(await connecting).toBeInstanceOf(Error);
    expect(Date.now() - started).toBeLessThan(1_000);
    await expect.poll(() => endpoint.refusedClosed, { timeout: 500 }).toBe(1);
  });

  it('send() and probe() refuse at once while there is no open socket', async () => {
    const { transport } = await setup({ paired: false });
    await expect(send(transport, 'SB-NOSOCKET')).rejects.toMatchObject({ code: 428, ambiguous: false });
    await expect(transport.probe(new AbortController().signal)).rejects.toThrow(/not connected/);
  });
});
