// Finished messages leave the hot document for the append-only, rotated history files.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { realClock } from '../../../actors/clock.ts';
import { Outbox } from '../../../src/outbox.ts';
import { HistoryLog } from '../../../src/store/history.ts';
import { Store } from '../../../src/store/store.ts';
import { tempDir } from '../../support/system.ts';

const A = '+971501234567';

async function deliver(outbox: Outbox, text: string): Promise<string> {
  const { id } = await outbox.accept({ to: '+971501112233', text });
  const m = outbox.assign(id, A);
  outbox.markSending(id, A, m.epoch);
  outbox.markSent(id, A, m.epoch);
  outbox.markReceipt(id, 'delivered');
  return id;
}

describe('history files', () => {
  it('a delivered message leaves the store document, stays readable, and is found after a restart', async () => {
    const dir = tempDir();
    let store = await Store.open(dir, { fsync: false });
    let outbox = new Outbox(store, realClock, new HistoryLog(dir));
    const id = await deliver(outbox, 'hello');
    await store.commit();
    expect(store.data.messages[id]).toBeUndefined();
    expect(outbox.get(id)?.status).toBe('delivered');
    await store.close();

    store = await Store.open(dir, { fsync: false });
    outbox = new Outbox(store, realClock, new HistoryLog(dir));
    const m = outbox.get(id);
    expect(m?.status).toBe('delivered');
    expect(m?.history.map((h) => h.status)).toEqual(['queued', 'assigned', 'sending', 'sent', 'delivered']);
    await store.close();
  });

  it('rotates to a new file when the current one reaches its size limit', async () => {
    const dir = tempDir();
    const store = await Store.open(dir, { fsync: false });
    const outbox = new Outbox(store, realClock, new HistoryLog(dir, 1_000));
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) ids.push(await deliver(outbox, `message ${i} `.repeat(10)));
    const files = readdirSync(dir).filter((f) => f.startsWith('history-'));
    expect(files.length).toBeGreaterThan(2);
    const fresh = new HistoryLog(dir, 1_000);
    for (const id of ids) expect(fresh.find(id)?.id).toBe(id);
    await store.close();
  });
});
