// The store on real files and on the simulated file layer: journal records, group commit, atomic
// transactions, start-up replay, torn tails, corruption, checkpoints, and what a failed write does.
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../../actors/clock.ts';
import { Outbox } from '../../../src/outbox.ts';
import { CHECKPOINT_FILE } from '../../../src/store/checkpoint.ts';
import { HEADER_BYTES, scanSegment, segmentName } from '../../../src/store/journal.ts';
import type { MessageRecord } from '../../../src/store/schema.ts';
import { Store, type StoreOptions } from '../../../src/store/store.ts';
import { SimFileSystem } from '../../support/sim-fs.ts';
import { tempDir } from '../../support/system.ts';

const open: Store[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
});

async function openStore(dir = tempDir(), options: StoreOptions = {}) {
  const store = await Store.open(dir, { fsync: false, checkpointer: 'inline', freeze: true, ...options });
  open.push(store);
  return store;
}

/** Closes without a checkpoint, so the next open replays the journal. */
function abandon(store: Store): void {
  store.halt();
  open.splice(open.indexOf(store), 1);
}

/** Resolves once the store takes writes again (at once if it does). */
function untilAvailable(store: Store): Promise<void> {
  if (store.available) return Promise.resolve();
  return new Promise((resolve) => {
    const off = store.onEvent((e) => {
      if (e.type === 'recovered') {
        off();
        resolve();
      }
    });
  });
}

function journalFiles(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.startsWith('journal-'));
}

/** Everything the state holds, as plain data, to compare a live store with a fresh load. */
function snapshot(store: Store): Record<string, Record<string, unknown>> {
  return JSON.parse(JSON.stringify(store.state.toDocument()));
}

const A = '+971501234567';
const B = '+971501234568';
const TO = '+971501112233';

describe('store: journal and checkpoint', () => {
  it('creates an empty checkpoint and a journal segment at the first start', async () => {
    const dir = tempDir();
    await openStore(dir);
    expect(JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8'))).toMatchObject({
      version: 2,
      journal: { next: 1, group: 0 },
    });
    expect(journalFiles(dir)).toEqual([segmentName(1)]);
  });

  it('group commit: 1,000 messages accepted in one tick are one journal record, and every caller waits for it', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    const outbox = new Outbox(store, realClock);
    const before = store.stats.commits;
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => outbox.accept({ to: TO, text: `m${i}` })),
    );
    expect(store.stats.commits - before).toBe(1);
    const { records } = scanSegment(readFileSync(join(dir, segmentName(1))));
    expect(records).toHaveLength(1);
    expect(records[0]!.ops).toHaveLength(1_000);
    abandon(store);
    const again = await openStore(dir);
    for (const r of results) expect(again.get('messages', r.id)?.status).toBe('queued');
  });

  it('a commit costs what it changes: the record of one accept stays small however big the backlog is', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    const outbox = new Outbox(store, realClock);
    await Promise.all(
      Array.from({ length: 5_000 }, (_, i) => outbox.accept({ to: TO, text: `backlog ${i}` })),
    );
    const bytes = store.stats.bytes;
    await outbox.accept({ to: TO, text: 'one more' });
    expect(store.stats.bytes - bytes).toBeLessThan(400);
  });

  it('replays the journal at start-up: the state after a restart is the state before it', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    const outbox = new Outbox(store, realClock);
    const ids = (
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          outbox.accept({ to: `+9715011100${String(10 + i)}`, text: `r${i}` }),
        ),
      )
    ).map((r) => r.id);
    for (const id of ids.slice(0, 10)) await outbox.assign(id, A);
    await store.transaction((tx) => tx.put('affinity', TO, A));
    const before = snapshot(store);
    abandon(store);
    const again = await openStore(dir);
    expect(snapshot(again)).toEqual(before);
  });

  it('a checkpoint folds the journal into switchboard.json and deletes the segments it covers', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    const outbox = new Outbox(store, realClock);
    await Promise.all(Array.from({ length: 50 }, (_, i) => outbox.accept({ to: TO, text: `c${i}` })));
    const before = snapshot(store);
    await store.compact();
    expect(journalFiles(dir)).toEqual([segmentName(2)]);
    const doc = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8'));
    expect(doc.journal.next).toBe(2);
    expect(Object.keys(doc.collections.messages)).toHaveLength(50);
    abandon(store);
    expect(snapshot(await openStore(dir))).toEqual(before);
  });

  it('a checkpoint written by the worker thread holds the same state', async () => {
    const dir = tempDir();
    const store = await openStore(dir, { checkpointer: 'worker' });
    const outbox = new Outbox(store, realClock);
    await Promise.all(Array.from({ length: 30 }, (_, i) => outbox.accept({ to: TO, text: `w${i}` })));
    const before = snapshot(store);
    await store.compact();
    expect(store.stats.checkpoints).toBe(1);
    expect(journalFiles(dir)).toEqual([segmentName(2)]);
    abandon(store);
    expect(snapshot(await openStore(dir))).toEqual(before);
  });

  it('rolls to a new segment past segmentBytes and checkpoints past checkpointBytes', async () => {
    const dir = tempDir();
    const store = await openStore(dir, { segmentBytes: 4_000, checkpointBytes: 8_000 });
    const outbox = new Outbox(store, realClock);
    for (let i = 0; i < 40; i++)
      await outbox.accept({ to: TO, text: `a message long enough to fill segments quickly ${i}` });
    await store.checkpoint();
    expect(store.stats.checkpoints).toBeGreaterThan(0);
    const segments = journalFiles(dir);
    expect(segments.length).toBeLessThan(4);
    const before = snapshot(store);
    abandon(store);
    expect(snapshot(await openStore(dir))).toEqual(before);
  });

  it('reads a version 1 store file (one JSON document) and carries it on', async () => {
    const dir = tempDir();
    const m = {
      id: 'old-1',
      to: TO,
      text: 'from v1',
      status: 'queued',
      master: null,
      epoch: 0,
      attempts: 0,
      createdAt: 1,
      history: [{ at: 1, status: 'queued' }],
    };
    writeFileSync(
      join(dir, CHECKPOINT_FILE),
      JSON.stringify({
        version: 1,
        epoch: 3,
        messages: { 'old-1': m },
        idempotency: { k: { id: 'old-1', at: 1 } },
        affinity: { [TO]: A },
        masters: {},
        failovers: [
          {
            id: 'fo-2',
            from: A,
            to: B,
            reason: 'x',
            manual: false,
            status: 'completed',
            startedAt: 1,
            moved: { messages: 0, contacts: 0 },
          },
        ],
      }),
    );
    const store = await openStore(dir);
    expect(store.get('messages', 'old-1')?.text).toBe('from v1');
    expect(store.get('affinity', TO)).toBe(A);
    expect(store.get('failovers', 'fo-2')?.status).toBe('completed');
    expect(store.get('idempotency', 'k')?.id).toBe('old-1');
  });
});

describe('store: torn tails and corruption', () => {
  async function twoRecords(dir: string): Promise<{ ids: string[]; lastStart: number; size: number }> {
    const store = await openStore(dir);
    const outbox = new Outbox(store, realClock);
    const first = await outbox.accept({ to: TO, text: 'first' });
    const second = await outbox.accept({ to: TO, text: 'second' });
    abandon(store);
    const file = join(dir, segmentName(1));
    const bytes = readFileSync(file);
    const firstLength = bytes.readUInt32LE(0);
    return { ids: [first.id, second.id], lastStart: HEADER_BYTES + firstLength, size: bytes.length };
  }

  it('cuts a torn last record at every byte offset and keeps everything before it', async () => {
    const template = tempDir();
    const { ids, lastStart, size } = await twoRecords(template);
    const original = readFileSync(join(template, segmentName(1)));
    for (let cut = lastStart; cut < size; cut++) {
      const dir = tempDir();
      for (const f of readdirSync(template))
        if (!f.startsWith('switchboard.lock')) writeFileSync(join(dir, f), readFileSync(join(template, f)));
      writeFileSync(join(dir, segmentName(1)), original.subarray(0, cut));
      const lines: string[] = [];
      const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
      const store = await openStore(dir, { log });
      expect(store.get('messages', ids[0]!)?.text, `cut at ${cut}`).toBe('first');
      expect(store.get('messages', ids[1]!), `cut at ${cut}`).toBeUndefined();
      expect(readFileSync(join(dir, segmentName(1))).length).toBe(lastStart);
      if (cut > lastStart) expect(lines.join('')).toMatch(/torn tail cut/);
      await store.close();
      open.splice(open.indexOf(store), 1);
    }
  });

  it('refuses to start on a corrupt record before the tail, naming the file and offset, and changes nothing', async () => {
    const dir = tempDir();
    const { lastStart } = await twoRecords(dir);
    const file = join(dir, segmentName(1));
    const bytes = readFileSync(file);
    bytes[HEADER_BYTES + 3] = bytes[HEADER_BYTES + 3]! ^ 0xff; // inside the first record
    writeFileSync(file, bytes);
    const files = Object.fromEntries(
      readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString('base64')]),
    );
    await expect(openStore(dir)).rejects.toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt: checksum mismatch at offset 0`),
    );
    expect(lastStart).toBeGreaterThan(0);
    for (const [f, content] of Object.entries(files)) {
      if (f === 'switchboard.lock') continue;
      expect(readFileSync(join(dir, f)).toString('base64'), f).toBe(content);
    }
  });

  it('refuses a corrupt checkpoint file, names it, and leaves it untouched', async () => {
    const dir = tempDir();
    const file = join(dir, CHECKPOINT_FILE);
    writeFileSync(file, '{"version":2,"journal":');
    await expect(openStore(dir)).rejects.toThrow(/switchboard\.json is corrupt: not valid JSON/);
    expect(readFileSync(file, 'utf8')).toBe('{"version":2,"journal":');
    writeFileSync(file, '{"version":9}');
    await expect(openStore(dir)).rejects.toThrow(/unsupported version 9/);
    expect(readFileSync(file, 'utf8')).toBe('{"version":9}');
  });

  it('refuses a journal with a missing segment in the middle', async () => {
    const dir = tempDir();
    const store = await openStore(dir, { segmentBytes: 200, checkpointBytes: 1e9 });
    const outbox = new Outbox(store, realClock);
    for (let i = 0; i < 6; i++) await outbox.accept({ to: TO, text: `segment filler number ${i}` });
    abandon(store);
    const segments = journalFiles(dir).sort();
    expect(segments.length).toBeGreaterThan(2);
    truncateSync(join(dir, segments[1]!), 0);
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, segments[1]!));
    await expect(openStore(dir)).rejects.toThrow(/is missing before it/);
  });
});

describe('store: a failed write is a crash without dying', () => {
  const DIR = '/data';

  async function simStore(fs: SimFileSystem, extra: StoreOptions = {}) {
    return openStore(DIR, { fs, lock: false, retryMs: { base: 100, max: 200 }, ...extra });
  }

  async function freshLoad(fs: SimFileSystem): Promise<Record<string, Record<string, unknown>>> {
    // Reading the same disk with a second store: what a restart would find.
    const copy = fs.image(() => 0);
    const store = await Store.open(DIR, { fs: copy, lock: false, checkpointer: 'off' });
    const snap = snapshot(store);
    store.halt();
    return snap;
  }

  for (const [label, rule] of [
    ['EIO on write', { op: 'write', code: 'EIO' }],
    ['ENOSPC on write', { op: 'write', code: 'ENOSPC' }],
    ['EIO on fsync', { op: 'sync', code: 'EIO' }],
    ['ENOSPC on fsync', { op: 'sync', code: 'ENOSPC' }],
    ['a short write, then EIO', { op: 'write', code: 'EIO', shortBytes: 7 }],
  ] as const) {
    it(`${label}: the callers of that commit get 503 SB_ERR_STORE_UNAVAILABLE, memory equals the disk, and writes resume after a test write`, async () => {
      const fs = new SimFileSystem();
      const store = await simStore(fs);
      const outbox = new Outbox(store, realClock);
      const kept = await outbox.accept({ to: TO, text: 'before the fault' });
      fs.fail({ ...rule, path: 'journal-', times: 1 });
      const results = await Promise.allSettled([
        outbox.accept({ to: TO, text: 'lost 1' }),
        outbox.accept({ to: TO, text: 'lost 2' }),
      ]);
      for (const r of results) {
        expect(r.status).toBe('rejected');
        expect((r as PromiseRejectedResult).reason).toMatchObject({
          code: 'SB_ERR_STORE_UNAVAILABLE',
          statusCode: 503,
        });
      }
      expect(store.available).toBe(false);
      expect(store.unavailableReason).toMatch(new RegExp(rule.code));
      // memory went back to what the disk holds: the rejected messages are nowhere
      expect([...store.map('messages').keys()]).toEqual([kept.id]);
      expect(snapshot(store)).toEqual(await freshLoad(fs));
      // while down, writes are refused at once
      await expect(outbox.accept({ to: TO, text: 'refused' })).rejects.toMatchObject({
        code: 'SB_ERR_STORE_UNAVAILABLE',
      });
      // the fault was a one-off: the next test write succeeds and the store comes back
      await untilAvailable(store);
      expect(store.available).toBe(true);
      const after = await outbox.accept({ to: TO, text: 'after' });
      expect(snapshot(store)).toEqual(await freshLoad(fs));
      expect(store.get('messages', after.id)?.text).toBe('after');
      // and what was acknowledged survives a power loss right now
      const crashed = fs.crash(() => 0);
      const restarted = await Store.open(DIR, { fs: crashed, lock: false, checkpointer: 'off' });
      expect(restarted.get('messages', kept.id)?.text).toBe('before the fault');
      expect(restarted.get('messages', after.id)?.text).toBe('after');
      expect(restarted.map('messages').size).toBe(2);
      restarted.halt();
    });
  }

  it('a failed fsync is never retried on the same bytes: data the kernel dropped cannot come back as garbage after a crash', async () => {
    const fs = new SimFileSystem();
    const store = await simStore(fs);
    const outbox = new Outbox(store, realClock);
    await outbox.accept({ to: TO, text: 'one' });
    fs.fail({ op: 'sync', code: 'EIO', path: 'journal-', times: 1 });
    await outbox.accept({ to: TO, text: 'two' }).catch(() => undefined);
    await untilAvailable(store);
    await outbox.accept({ to: TO, text: 'three' });
    const crashed = fs.crash(() => 0);
    const restarted = await Store.open(DIR, { fs: crashed, lock: false, checkpointer: 'off' });
    expect([...restarted.map('messages').values()].map((m) => m.text).sort()).toEqual(['one', 'three']);
    restarted.halt();
  });

  it('stays unavailable while the disk keeps failing, and comes back when it stops', async () => {
    const fs = new SimFileSystem();
    const store = await simStore(fs);
    const outbox = new Outbox(store, realClock);
    fs.capacity = fs.used; // the disk is full
    await expect(outbox.accept({ to: TO, text: 'no room' })).rejects.toMatchObject({
      code: 'SB_ERR_STORE_UNAVAILABLE',
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(store.available).toBe(false);
    expect(store.unavailableReason).toMatch(/ENOSPC/);
    fs.capacity = Number.POSITIVE_INFINITY;
    await untilAvailable(store);
    expect((await outbox.accept({ to: TO, text: 'room again' })).created).toBe(true);
  });

  it('a transaction is atomic: a failover transfer commits completely or not at all', async () => {
    const fs = new SimFileSystem();
    const store = await simStore(fs);
    const outbox = new Outbox(store, realClock);
    for (let i = 0; i < 20; i++) {
      const { id } = await outbox.accept({ to: `+97150111${String(1000 + i).slice(1)}`, text: `t${i}` });
      await outbox.assign(id, A);
    }
    await store.transaction((tx) => {
      for (let i = 0; i < 20; i++) tx.put('affinity', `+97150111${String(1000 + i).slice(1)}`, A);
    });
    const before = snapshot(store);
    fs.fail({ op: 'sync', code: 'EIO', path: 'journal-', times: 1 });
    await expect(
      outbox.transfer(A, B, 'doomed', (tx) =>
        tx.put('failovers', 'fo-1', {
          id: 'fo-1',
          from: A,
          to: B,
          reason: 'test',
          manual: false,
          status: 'activating',
          startedAt: 0,
          moved: { messages: 20, contacts: 20 },
        }),
      ),
    ).rejects.toMatchObject({ code: 'SB_ERR_STORE_UNAVAILABLE' });
    expect(snapshot(store)).toEqual(before);
    expect(outbox.ownedCount(A)).toBe(20);
    expect(outbox.ownedCount(B)).toBe(0);
    await untilAvailable(store);
    const moved = await outbox.transfer(A, B, 'again');
    expect(moved).toMatchObject({ messages: 20, contacts: 20 });
    const crashed = fs.crash(() => 0);
    const restarted = await Store.open(DIR, { fs: crashed, lock: false, checkpointer: 'off' });
    for (const m of restarted.map('messages').values()) expect(m.master).toBe(B);
    expect(new Set(restarted.map('affinity').values())).toEqual(new Set([B]));
    restarted.halt();
  });

  it('a crash while a commit is being fsynced: start-up keeps every acknowledged record, and the pending one whole or not at all', async () => {
    const { SimulatedClock } = await import('xstate');
    for (const keep of [0, 1, 5, 9, 50, 100_000]) {
      const clock = new SimulatedClock();
      const fs = new SimFileSystem(clock);
      const store = await simStore(fs);
      const outbox = new Outbox(store, realClock);
      await outbox.accept({ to: TO, text: 'acked' });
      const size = fs.peek(`${DIR}/${segmentName(1)}`)!.length;
      fs.latencyMs = 1_000; // the disk is slow: the next commit's write and fsync wait on the clock
      let answered = false;
      void outbox.accept({ to: TO, text: 'pending' }).then(() => {
        answered = true;
      });
      await new Promise((r) => setImmediate(r)); // the group's write starts and waits on the slow disk
      clock.increment(1_000); // the write lands in the page cache
      await new Promise((r) => setImmediate(r)); // the fsync starts; it has not returned
      expect(answered).toBe(false);
      const frame = fs.peek(`${DIR}/${segmentName(1)}`)!.length - size;
      expect(frame).toBeGreaterThan(HEADER_BYTES);
      store.halt();
      const crashed = fs.crash((unsynced) => Math.min(unsynced, keep));
      const restarted = await Store.open(DIR, { fs: crashed, lock: false, checkpointer: 'off' });
      const texts = [...restarted.map('messages').values()].map((m: MessageRecord) => m.text).sort();
      expect(texts, `keep ${keep} of ${frame}`).toEqual(keep >= frame ? ['acked', 'pending'] : ['acked']);
      restarted.halt();
    }
  });
});
