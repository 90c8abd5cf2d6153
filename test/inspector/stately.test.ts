// `--inspect stately` (config inspector.stately): the flag is parsed, and the actors' inspection
// reaches @statelyai/inspect's local bridge, sanitised. Stately's own page needs the internet, so
// the test reads the bridge's WebSocket the way that page would, offline.
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { startStatelyInspector } from '../../inspector/stately.ts';
import { createSwitchboard, type Switchboard } from '../../src/switchboard.ts';
import { runCli, startService, writeConfig } from '../support/service.ts';
import { PHONES, tempDir, testConfig } from '../support/system.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const [A] = PHONES as [string];
const RECIPIENT = '+971501112233';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, check: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('--inspect stately', () => {
  it('is off by default: no Stately bridge is started', async () => {
    const dir = tempDir();
    const sb = await createSwitchboard(testConfig(dir, 1), { log, fsync: false });
    cleanups.push(async () => {
      await sb.stop(0);
      rmSync(dir, { recursive: true, force: true });
    });
    expect(sb.inspection.stately).toBeUndefined();
  });

  it('feeds every actor to the Stately bridge, sanitised, and a fault shows there as it happens', async () => {
    const port = await freePort();
    const dir = tempDir();
    const sb: Switchboard = await createSwitchboard(
      testConfig(dir, 3, { inspector: { stately: true, statelyPort: port } }),
      { log, fsync: false },
    );
    cleanups.push(async () => {
      await sb.stop(0);
      rmSync(dir, { recursive: true, force: true });
    });
    expect(sb.inspection.stately?.url).toBe(`http://localhost:${port}`);

    // What Stately's page receives, read from the bridge's WebSocket.
    const received: StatelyInspectionEvent[] = [];
    const receiver = createWebSocketReceiver({ server: `ws://127.0.0.1:${port}` });
    const sub = receiver.subscribe((event) => received.push(event));
    cleanups.push(() => sub.unsubscribe());

    // Stately names an actor by its id (a master's is its number) and sends its machine's definition.
    const master = await until('the masters on the bridge', () =>
      received.find((e) => e.type === '@xstate.actor' && e.name === A),
    );
    expect(master.type === '@xstate.actor' && master.definition).toContain('"id":"master"');

    await until('every master healthy', () => (sb.getHealthyMasters().length === 3 ? true : undefined));
    sb.injectFault(A, { kind: 'logout' });
    await until('the logged-out master in "failed.needsRepair" on the bridge', () =>
      received.find(
        (e) =>
          e.type === '@xstate.snapshot' &&
          JSON.stringify((e.snapshot as { value?: unknown }).value) === '{"failed":"needsRepair"}',
      ),
    );
    await until('the failover incident on the bridge', () =>
      received.find((e) => e.type === '@xstate.actor' && (e.definition ?? '').includes('"id":"failover"')),
    );
  });

  it('sanitises everything it sends to Stately: recipients masked, texts removed, tokens redacted', async () => {
    const port = await freePort();
    const stately = startStatelyInspector({ port, isFleetNumber: (p) => p === A });
    cleanups.push(() => stately.stop());
    const received: StatelyInspectionEvent[] = [];
    const receiver = createWebSocketReceiver({ server: stately.socketUrl });
    const sub = receiver.subscribe((event) => received.push(event));
    cleanups.push(() => sub.unsubscribe());
    const machine = setup({ types: { context: {} as { last: unknown } } }).createMachine({
      id: 'outbox',
      context: { last: null },
      on: { '*': { actions: assign({ last: ({ event }) => event }) } },
    });
    const actor = createActor(machine, {
      inspect: stately.inspect,
      input: { token: 'sekrit-input' },
    }).start();
    cleanups.push(() => void actor.stop());
    actor.send({
      type: 'message.accepted',
      from: A,
      to: RECIPIENT,
      text: 'your code is 4711',
      token: 'sekrit',
    });
    await until('the event on the bridge', () =>
      received.find((e) => e.type === '@xstate.snapshot' && JSON.stringify(e).includes('message.accepted')),
    );
    const wire = JSON.stringify(received);
    expect(wire).not.toContain(RECIPIENT);
    expect(wire).not.toContain('4711');
    expect(wire).not.toContain('sekrit');
    expect(wire).toContain('+9715011•••33');
    expect(wire).toContain(A);
  });

  it("the bridge serves the page that embeds Stately's inspector (which needs the internet)", async () => {
    const port = await freePort();
    const dir = tempDir();
    const sb = await createSwitchboard(
      testConfig(dir, 1, { inspector: { stately: true, statelyPort: port } }),
      {
        log,
        fsync: false,
      },
    );
    cleanups.push(async () => {
      await sb.stop(0);
      rmSync(dir, { recursive: true, force: true });
    });
    const html = await (await fetch(`http://127.0.0.1:${port}/`)).text();
    expect(html).toContain('https://stately.ai/inspect');
    expect(html).toContain(`ws://localhost:${port}`);
  });

  it('`switchboard serve --inspect stately` turns it on and says where to look', async () => {
    const port = await freePort();
    const dir = tempDir();
    const config = writeConfig(dir, {
      masters: [{ phone: A }],
      dataDir: dir,
      inspector: { statelyPort: port },
    });
    const service = await startService(['--config', config, '--port', '0', '--inspect', 'stately']);
    cleanups.push(async () => {
      await service.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    await until('the log line', () =>
      service.output().includes(`open http://localhost:${port}`) ? true : undefined,
    );
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
  });

  it('`--inspect` with anything but "stately" exits with code 2 and says what it takes', async () => {
    const result = await runCli(['serve', '--inspect', 'hosted', '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--inspect "hosted": the only choice is "stately"/);
  });
});
