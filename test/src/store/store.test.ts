// The store on a real file: group commit, atomic transactions, corrupt files, the data dir lock.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Adapter } from 'lowdb';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../../actors/clock.ts';
import { Outbox, transferInDocument } from '../../../src/outbox.ts';
import { HistoryLog } from '../../../src/store/history.ts';
import type { StoreData } from '../../../src/store/schema.ts';
import { Store } from '../../../src/store/store.ts';
import { tempDir } from '../../support/system.ts';

const open: Store[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close().catch(() => undefined);
});

class CountingAdapter implements Adapter<StoreData> {
  writes = 0;
  failNext = false;
  constructor(readonly inner: Adapter<StoreData>) {}
  read() {
    return this.inner.read();
  }
  async write(data: StoreData) {
    this.writes++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('disk full (injected)');
    }
    return this.inner.write(data);
  }
}

async function openStore(dir = tempDir(), fsync = false) {
  let adapter!: CountingAdapter;
  const store = await Store.open(dir, {
    fsync,
    wrapAdapter: (inner) => {
      adapter = new CountingAdapter(inner);
      return adapter;
    },
  });
  open.push(store);
  return { store, adapter, dir, file: join(dir, 'switchboard.json') };
}

const A = '+971501234567';
const B = '+971501234568';

describe('store', () => {
  it('creates switchboard.json at the first start', async () => {
    const { file } = await openStore();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ version: 1, messages: {} });
  });

  it('group commit: 1,000 messages accepted in one tick go out in one write, and each caller waits for it', async () => {
    const { store, adapter, file } = await openStore();
    const outbox = new Outbox(store, realClock);
    const before = adapter.writes;
    const results = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) => outbox.accept({ to: '+971501112233', text: `m${i}` })),
    );
    expect(adapter.writes - before).toBe(1);
    const onDisk = JSON.parse(readFileSync(file, 'utf8')) as StoreData;
    for (const r of results) expect(onDisk.messages[r.id]?.status).toBe('queued');
  });

  it('idempotency: the same key gives the same id and stores one message', async () => {
    const { store } = await openStore();
    const outbox = new Outbox(store, realClock);
    const a = await outbox.accept({ to: '+971501112233', text: 'x', idempotencyKey: 'k1' });
    const b = await outbox.accept({ to: '+971501112233', text: 'x', idempotencyKey: 'k1' });
    expect(b).toEqual({ id: a.id, status: 'queued', created: false });
    expect(Object.keys(store.data.messages)).toHaveLength(1);
  });

  it('forgets an idempotency key a day after its message finished, so keys do not grow the store forever', async () => {
    const { store, dir } = await openStore();
    let now = Date.UTC(2026, 0, 1);
    const clock = { ...realClock, now: () => now };
    const outbox = new Outbox(store, clock, new HistoryLog(dir));
    const first = await outbox.accept({ to: '+971501112233', text: 'x', idempotencyKey: 'old' });
    const pending = await outbox.accept({ to: '+971501112233', text: 'y', idempotencyKey: 'pending' });
    // 'old' finishes and leaves the document; 'pending' is still queued
    const m = outbox.assign(first.id, A);
    outbox.markSending(first.id, A, m.epoch);
    outbox.markSent(first.id, A, m.epoch);
    outbox.markReceipt(first.id, 'delivered');
    now += 25 * 60 * 60 * 1000;
    await outbox.accept({ to: '+971501112233', text: 'z', idempotencyKey: 'new' });
    expect(Object.keys(store.data.idempotency).sort()).toEqual(['new', 'pending']);
    expect((await outbox.accept({ to: '+971501112233', text: 'y', idempotencyKey: 'pending' })).id).toBe(
      pending.id,
    );
  });

  it('moves a sent message that never got a receipt to the history file after a day', async () => {
    const { store, dir } = await openStore();
    let now = Date.UTC(2026, 0, 1);
    const outbox = new Outbox(store, { ...realClock, now: () => now }, new HistoryLog(dir));
    const { id } = await outbox.accept({ to: '+971501112233', text: 'no receipt' });
    const m = outbox.assign(id, A);
    outbox.markSending(id, A, m.epoch);
    outbox.markSent(id, A, m.epoch);
    now += 25 * 60 * 60 * 1000;
    await outbox.accept({ to: '+971501112233', text: 'later' });
    expect(store.data.messages[id]).toBeUndefined();
    expect(new HistoryLog(dir).find(id)?.status).toBe('sent');
  });

  it('failover moves every pending message and affinity entry of the failed master to the backup in one commit', async () => {
    const { store, adapter, file } = await openStore();
    const outbox = new Outbox(store, realClock);
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      const { id } = await outbox.accept({ to: `+97150111${String(1000 + i).slice(1)}`, text: `m${i}` });
      ids.push(id);
      outbox.assign(id, i % 3 === 0 ? B : A);
      if (i % 3 !== 0) store.data.affinity[`+97150111${String(1000 + i).slice(1)}`] = A;
    }
    // one mid-send on A
    const sending = ids[1]!;
    outbox.markSending(sending, A, store.data.messages[sending]!.epoch);
    await store.commit();
    const writesBefore = adapter.writes;
    const result = await outbox.transfer(A, B, 'test failover');
    expect(adapter.writes - writesBefore).toBe(1);
    expect(result.messages).toBe(200);
    expect(result.contacts).toBe(200);
    const onDisk = JSON.parse(readFileSync(file, 'utf8')) as StoreData;
    for (const m of Object.values(onDisk.messages)) expect(m.master).toBe(B);
    for (const owner of Object.values(onDisk.affinity)) expect(owner).toBe(B);
    expect(onDisk.messages[sending]?.status).toBe('unknown');
    expect(onDisk.messages[sending]?.history.at(-1)?.note).toMatch(/may arrive twice/);
    expect(outbox.ownedCount(A)).toBe(0);
    expect(outbox.ownedCount(B)).toBe(300);
  });

  it('a transfer whose commit throws leaves the file and memory exactly as before', async () => {
    const { store, adapter, file } = await openStore();
    const outbox = new Outbox(store, realClock);
    for (let i = 0; i < 50; i++) {
      const { id } = await outbox.accept({ to: '+971501112233', text: `m${i}` });
      outbox.assign(id, A);
    }
    store.data.affinity['+971501112233'] = A;
    await store.commit();
    const fileBefore = readFileSync(file, 'utf8');
    const memoryBefore = structuredClone(store.data);
    adapter.failNext = true;
    await expect(outbox.transfer(A, B, 'doomed')).rejects.toThrow(/disk full/);
    expect(readFileSync(file, 'utf8')).toBe(fileBefore);
    expect(store.data).toEqual(memoryBefore);
    expect(outbox.ownedCount(A)).toBe(50);
    expect(outbox.ownedCount(B)).toBe(0);
    // and the next try goes through
    const ok = await outbox.transfer(A, B, 'retry');
    expect(ok.messages).toBe(50);
  });

  it('a failed group commit rejects every caller of that tick', async () => {
    const { store, adapter } = await openStore();
    const outbox = new Outbox(store, realClock);
    adapter.failNext = true;
    const results = await Promise.allSettled([
      outbox.accept({ to: '+971501112233', text: 'a' }),
      outbox.accept({ to: '+971501112233', text: 'b' }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('transferInDocument with no backup returns the messages to the queue and drops their affinity', () => {
    const data: StoreData = {
      version: 1,
      epoch: 1,
      messages: {
        x: {
          id: 'x',
          to: '+1',
          text: 't',
          status: 'assigned',
          master: A,
          epoch: 1,
          attempts: 0,
          createdAt: 0,
          history: [],
        },
      },
      idempotency: {},
      affinity: { '+1': A, '+2': B },
      masters: {},
      failovers: [],
    };
    const r = transferInDocument(data, A, null, 'no backup', 5);
    expect(r).toMatchObject({ messages: 1, contacts: 1 });
    expect(data.messages.x).toMatchObject({ status: 'queued', master: null, epoch: 2 });
    expect(data.affinity).toEqual({ '+2': B });
  });

  it('refuses a corrupt store file, names it, and leaves it untouched', async () => {
    const dir = tempDir();
    const file = join(dir, 'switchboard.json');
    writeFileSync(file, '{"version":1,"messages":{');
    await expect(Store.open(dir, { fsync: false })).rejects.toThrow(
      new RegExp(`store file ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt: not valid JSON`),
    );
    expect(readFileSync(file, 'utf8')).toBe('{"version":1,"messages":{');
    writeFileSync(file, '{"version":2}');
    await expect(Store.open(dir, { fsync: false })).rejects.toThrow(/unsupported version 2/);
    expect(readFileSync(file, 'utf8')).toBe('{"version":2}');
  });

  it('one process owns a data dir: a second open is refused while the first lives', async () => {
    const { dir } = await openStore();
    // another live process holds the lock
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      const dir2 = tempDir();
      writeFileSync(join(dir2, 'switchboard.lock'), `${child.pid}\n`);
      await expect(Store.open(dir2, { fsync: false })).rejects.toThrow(/in use by process/);
    } finally {
      child.kill('SIGKILL');
    }
    expect(readFileSync(join(dir, 'switchboard.lock'), 'utf8').trim()).toBe(String(process.pid));
  });

  it('a lock left by a dead process is taken over at once', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, ['-e', '0']);
    await new Promise((r) => child.on('exit', r));
    writeFileSync(join(dir, 'switchboard.lock'), `${child.pid}\n`);
    const { store } = await openStore(dir);
    expect(readFileSync(join(dir, 'switchboard.lock'), 'utf8').trim()).toBe(String(process.pid));
    await store.close();
  });

  it('with fsync on, commits still land (file and directory synced)', async () => {
    const { store, file } = await openStore(tempDir(), true);
    const outbox = new Outbox(store, realClock);
    const { id } = await outbox.accept({ to: '+971501112233', text: 'durable' });
    expect((JSON.parse(readFileSync(file, 'utf8')) as StoreData).messages[id]).toBeDefined();
  });
});
