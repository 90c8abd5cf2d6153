// The bridge between XState's inspect observer and the pages: nothing recorded without a page, a
// hello with the present for each page, sanitised batches after it, a bounded log, slow pages resynced.
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { type AnyActorRef, createActor, fromPromise, setup } from 'xstate';
import { InspectionBridge } from '../../inspector/bridge.ts';
import type { StreamMessage } from '../../inspector/protocol.ts';
import { type AuditInput, failoverMachine, type SelectBackupInput } from '../../machines/failover.machine.ts';

const MASTER = '+971501234567';
const RECIPIENT = '+971501112233';

/** A parent with one spawned child, both of machines the bridge draws, and a callback child it does not. */
const lamp = setup({
  types: { events: {} as { type: 'toggle' } | { type: 'note'; to?: string; text?: string; token?: string } },
}).createMachine({
  id: 'lamp',
  initial: 'off',
  states: { off: { on: { toggle: 'on' } }, on: { on: { toggle: 'off' } } },
});
const house = setup({ actors: { lamp } }).createMachine({
  id: 'house',
  context: ({ spawn }) => ({ lamp: spawn('lamp', { id: MASTER, systemId: `lamp:${MASTER}` }) }),
});

const actors: AnyActorRef[] = [];
afterEach(() => {
  for (const a of actors.splice(0)) a.stop();
});

function start(bridge: InspectionBridge) {
  const root = createActor(house, { systemId: 'house', inspect: bridge.inspect }).start();
  actors.push(root);
  const child = root.getSnapshot().context.lamp as AnyActorRef;
  return { root, child };
}

function newBridge(options: ConstructorParameters<typeof InspectionBridge>[0] = {}) {
  return new InspectionBridge({
    machines: [house, lamp],
    isFleetNumber: (p) => p === MASTER,
    flushMs: 60_000, // the tests flush by hand
    ...options,
  });
}

/** A page: collects the parsed `data:` messages written to its stream. */
function page() {
  const stream = new PassThrough();
  const messages: StreamMessage[] = [];
  let buffer = '';
  stream.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const data = buffer
        .slice(0, end)
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('');
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      if (data) messages.push(JSON.parse(data) as StreamMessage);
    }
  });
  return { stream, messages };
}

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('InspectionBridge', () => {
  it('records nothing while no page is connected: a page that connects later gets the present and no history', async () => {
    const bridge = newBridge();
    const { child } = start(bridge);
    child.send({ type: 'toggle' });
    bridge.flush();
    const p = page();
    bridge.connect(p.stream);
    await tick();
    expect(p.messages).toHaveLength(1);
    const hello = p.messages[0]!;
    expect(hello.type).toBe('hello');
    if (hello.type !== 'hello') return;
    expect(hello.events).toEqual([]);
    expect(hello.actors.map((a) => [a.label, a.machine])).toEqual([
      ['house', 'house'],
      [`lamp:${MASTER}`, 'lamp'],
    ]);
    const lampSnapshot = hello.snapshots.find((s) => s.session === child.sessionId);
    expect(lampSnapshot).toMatchObject({ value: 'on', status: 'active' });
  });

  it('sends a connected page each event a machine actor receives and the newest snapshot of each actor', async () => {
    const bridge = newBridge();
    const { child } = start(bridge);
    const p = page();
    bridge.connect(p.stream);
    child.send({ type: 'toggle' });
    child.send({ type: 'toggle' });
    child.send({ type: 'toggle' });
    bridge.flush();
    await tick();
    const batch = p.messages[1]!;
    expect(batch.type).toBe('batch');
    if (batch.type !== 'batch') return;
    expect(batch.events.map((e) => [e.target, e.type])).toEqual([
      [`lamp:${MASTER}`, 'toggle'],
      [`lamp:${MASTER}`, 'toggle'],
      [`lamp:${MASTER}`, 'toggle'],
    ]);
    expect(batch.events.map((e) => e.seq)).toEqual([1, 2, 3]);
    // Three snapshots happened; the page needs only the last.
    expect(batch.snapshots).toEqual([
      expect.objectContaining({ session: child.sessionId, value: 'on', status: 'active' }),
    ]);
    // Nothing new: nothing is sent again.
    bridge.flush();
    await tick();
    expect(p.messages).toHaveLength(2);
  });

  it('sanitises what it sends: recipients masked, texts removed, tokens redacted', async () => {
    const bridge = newBridge();
    const { child } = start(bridge);
    const p = page();
    bridge.connect(p.stream);
    child.send({ type: 'note', to: RECIPIENT, text: 'your code is 4711', token: 'sekrit' });
    bridge.flush();
    await tick();
    const wire = JSON.stringify(p.messages);
    expect(wire).not.toContain(RECIPIENT);
    expect(wire).not.toContain('4711');
    expect(wire).not.toContain('sekrit');
    expect(wire).toContain('+9715011•••33');
    expect(wire).toContain(MASTER); // the fleet's own number names the actor
  });

  it('keeps the last `capacity` events for pages that connect later, and forgets nothing of a page it still has', async () => {
    const bridge = newBridge({ capacity: 4 });
    const { child } = start(bridge);
    const first = page();
    bridge.connect(first.stream);
    for (let i = 0; i < 10; i++) child.send({ type: 'toggle' });
    bridge.flush();
    const second = page();
    bridge.connect(second.stream);
    await tick();
    const hello = second.messages[0]!;
    if (hello.type !== 'hello') throw new Error('expected a hello');
    expect(hello.events.map((e) => e.seq)).toEqual([7, 8, 9, 10]);
    const batch = first.messages[1]!;
    if (batch.type !== 'batch') throw new Error('expected a batch');
    expect(batch.events).toHaveLength(10);
  });

  it('counts events beyond one batch as dropped instead of holding them', async () => {
    const bridge = newBridge({ maxBatch: 3 });
    const { child } = start(bridge);
    const p = page();
    bridge.connect(p.stream);
    for (let i = 0; i < 5; i++) child.send({ type: 'toggle' });
    bridge.flush();
    await tick();
    expect(p.messages[1]).toMatchObject({ type: 'batch', dropped: 2 });
    if (p.messages[1]?.type === 'batch') expect(p.messages[1].events).toHaveLength(3);
  });

  it('stops recording when the last page leaves', async () => {
    const bridge = newBridge();
    const { child } = start(bridge);
    const first = page();
    const disconnect = bridge.connect(first.stream);
    child.send({ type: 'toggle' });
    disconnect();
    expect(bridge.clients).toBe(0);
    child.send({ type: 'toggle' });
    child.send({ type: 'toggle' });
    bridge.flush();
    const second = page();
    bridge.connect(second.stream);
    await tick();
    const hello = second.messages[0]!;
    if (hello.type !== 'hello') throw new Error('expected a hello');
    expect(hello.events).toEqual([]);
  });

  it('drops a page whose stream closes', () => {
    const bridge = newBridge();
    start(bridge);
    const p = page();
    bridge.connect(p.stream);
    expect(bridge.clients).toBe(1);
    p.stream.destroy();
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        expect(bridge.clients).toBe(0);
        resolve();
      }),
    );
  });

  it('skips batches for a page that cannot keep up and, once it drains, sends it a fresh hello', async () => {
    const bridge = newBridge();
    const { child } = start(bridge);
    const written: string[] = [];
    let release: (() => void) | undefined;
    // A page whose socket is full: every write waits until the test releases it.
    const slow = new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _enc, done) {
        written.push(chunk.toString());
        release = done;
      },
    });
    bridge.connect(slow); // the hello fills it
    child.send({ type: 'toggle' });
    bridge.flush(); // skipped: the page is stalled
    child.send({ type: 'toggle' });
    bridge.flush(); // skipped too
    expect(written).toHaveLength(1);
    expect(written[0]).toContain('"type":"hello"');
    release?.();
    await tick();
    release?.();
    await tick();
    expect(written).toHaveLength(2);
    expect(written[1]).toContain('"type":"hello"');
    expect(written.join('')).not.toContain('"type":"batch"');
  });

  it('still shows an actor that finished (a completed failover incident) to a page that connects after', async () => {
    const incident = failoverMachine.provide({
      actors: {
        selectBackup: fromPromise<string | null, SelectBackupInput>(async () => '+971501234568'),
        transfer: fromPromise(async () => ({ messages: 2, contacts: 1 })),
        activate: fromPromise<void, { id: string; from: string; to: string | null }>(async () => undefined),
        audit: fromPromise<void, AuditInput>(async () => undefined),
      },
    });
    // As in the supervisor: the incident is a child, stopped and gone from its parent once done.
    const parent = setup({ actors: { incident } }).createMachine({
      id: 'house',
      initial: 'failingOver',
      states: {
        failingOver: {
          invoke: {
            src: 'incident',
            id: 'fo-1',
            input: { id: 'fo-1', from: MASTER, reason: 'logged out', manual: false },
            onDone: 'idle',
          },
        },
        idle: {},
      },
    });
    const bridge = newBridge({ machines: [failoverMachine] });
    const watcher = page();
    bridge.connect(watcher.stream);
    const actor = createActor(parent, { inspect: bridge.inspect }).start();
    actors.push(actor);
    await new Promise<void>((resolve) => actor.subscribe((s) => s.matches('idle') && resolve()));
    expect(actor.getSnapshot().children).toEqual({});
    bridge.flush();
    const later = page();
    bridge.connect(later.stream);
    await tick();
    const hello = later.messages[0]!;
    if (hello.type !== 'hello') throw new Error('expected a hello');
    expect(hello.actors.map((a) => a.machine)).toEqual(['failover']);
    expect(hello.snapshots[0]).toMatchObject({ value: 'completed', status: 'done' });
    expect(hello.snapshots[0]!.context).toMatchObject({ backup: '+9715012•••68', moved: { messages: 2 } });
  });

  it("ends every page's stream when closed, and refuses pages after", async () => {
    const bridge = newBridge();
    start(bridge);
    const p = page();
    bridge.connect(p.stream);
    const ended = new Promise<void>((resolve) => p.stream.on('end', resolve));
    p.stream.resume();
    bridge.close();
    await ended;
    expect(bridge.clients).toBe(0);
    const late = page();
    bridge.connect(late.stream);
    expect(bridge.clients).toBe(0);
  });
});
