// Finished messages leave the live state for the append-only, rotated history files, found by an
// index (never a scan), and as durable as the journal record that archived them.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realClock } from '../../../actors/clock.ts';
import { Outbox } from '../../../src/outbox.ts';
import { type FileSystem, nodeFileSystem } from '../../../src/store/files.ts';
import { HistoryLog } from '../../../src/store/history.ts';
import { Store } from '../../../src/store/store.ts';
import { tempDir } from '../../support/system.ts';

const A = '+971501234567';

async function deliver(outbox: Outbox, text: string): Promise<string> {
  const { id } = await outbox.accept({ to: '+971501112233', text });
  await outbox.assign(id, A);
  const { started, durable } = outbox.markSending(A, outbox.nextToSend(A, 1));
  await durable;
  await outbox.markSent(id, A, started[0]!.epoch);
  await outbox.markReceipt(id, 'delivered');
  return id;
}

/** The real file system, counting what is read. */
function countingFs(): { fs: FileSystem; reads: string[] } {
  const inner = nodeFileSystem({ fsync: false });
  const reads: string[] = [];
  return {
    reads,
    fs: {
      ...inner,
      readFile: (path) => {
        reads.push(`all ${path}`);
        return inner.readFile(path);
      },
      readAt: (path, offset, length) => {
        reads.push(`range ${path}`);
        return inner.readAt(path, offset, length);
      },
    },
  };
}

describe('history files', () => {
  it('a delivered message leaves the live state, stays readable, and is found after a restart', async () => {
    const dir = tempDir();
    let store = await Store.open(dir, { fsync: false, checkpointer: 'inline' });
    let outbox = new Outbox(store, realClock);
    const id = await deliver(outbox, 'hello');
    expect(store.get('messages', id)).toBeUndefined();
    expect((await outbox.find(id))?.status).toBe('delivered');
    await store.close();

    store = await Store.open(dir, { fsync: false, checkpointer: 'inline' });
    outbox = new Outbox(store, realClock);
    const m = await outbox.find(id);
    expect(m?.status).toBe('delivered');
    expect(m?.history.map((h) => h.status)).toEqual(['queued', 'assigned', 'sending', 'sent', 'delivered']);
    await store.close();
  });

  it('rotates files by size, indexes each, and finds any message with one ranged read, never a scan', async () => {
    const dir = tempDir();
    const { fs, reads } = countingFs();
    const store = await Store.open(dir, { fs, checkpointer: 'inline', history: { maxBytes: 1_500 } });
    const outbox = new Outbox(store, realClock, { recentLimit: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(await deliver(outbox, `message ${i} `.repeat(10)));
      await store.history.maybeRotate(realClock.now());
    }
    const files = readdirSync(dir).filter((f) => f.startsWith('history-'));
    expect(files.filter((f) => f.endsWith('.jsonl')).length).toBeGreaterThan(5);
    expect(files.filter((f) => f.endsWith('.idx')).length).toBe(
      files.filter((f) => f.endsWith('.jsonl')).length - 1,
    );
    await store.close();

    const again = await Store.open(dir, { fs, checkpointer: 'inline', history: { maxBytes: 1_500 } });
    reads.length = 0;
    for (const id of ids) {
      expect((await again.archived(id))?.id).toBe(id);
    }
    expect(reads.filter((r) => r.startsWith('all'))).toEqual([]);
    expect(reads.length).toBe(ids.length);
    reads.length = 0;
    expect(await again.archived('00000000-0000-4000-8000-000000000000')).toBeUndefined();
    expect(reads).toEqual([]); // an unknown id costs no file read at all
    await again.close();
  });

  it('a history line lost in a crash is written again from the journal at start-up', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, { fsync: false, checkpointer: 'inline' });
    const outbox = new Outbox(store, realClock);
    const id = await deliver(outbox, 'survives');
    await store.history.sync();
    store.halt(); // no checkpoint: the journal still holds the archive op
    // the history line never reached the disk
    const file = join(dir, 'history-1.jsonl');
    expect(readFileSync(file, 'utf8')).toContain(id);
    writeFileSync(file, '');
    const again = await Store.open(dir, { fsync: false, checkpointer: 'inline' });
    expect((await again.archived(id))?.status).toBe('delivered');
    expect(readFileSync(file, 'utf8')).toContain(id);
    await again.close();
  });

  it('cuts a line torn by a crash at the end of the current file', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, { fsync: false, checkpointer: 'inline' });
    const outbox = new Outbox(store, realClock);
    const id = await deliver(outbox, 'whole');
    await store.close();
    const file = join(dir, 'history-2.jsonl');
    writeFileSync(file, '{"id":"torn","to":"+9715');
    const log = await HistoryLog.open(nodeFileSystem({ fsync: false }), dir);
    expect((await log.find(id))?.text).toBe('whole');
    expect(readFileSync(file, 'utf8')).toBe('');
    await log.close();
  });
});
