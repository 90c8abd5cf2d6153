// Retention on the SimulatedClock with real files: a finished message's text is gone from the API,
// the store file, the journal and the history files once retention.textHours have passed; a
// message that is not finished keeps its text however old it is.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PHONES, RECIPIENTS, startTestSystem, type TestSystem } from '../support/system.ts';

let t: TestSystem | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

function filesContaining(dir: string, needle: string): string[] {
  return readdirSync(dir).filter((f) => !f.endsWith('.lock') && readFileSync(join(dir, f)).includes(needle));
}

describe('retention', () => {
  it("removes a delivered message's text from the API, the store file, the journal and the history files after textHours, and never a queued one's", async () => {
    t = await startTestSystem({ masters: 1, config: { retention: { textHours: 1 } } });
    await t.advance(300);
    const secret = 'your one-time code is 318 004';
    const { id: delivered } = await t.system.send({ to: RECIPIENTS[0]!, text: secret });
    await t.advance(1_000);
    expect((await t.system.outbox.find(delivered))?.status).toBe('delivered');
    t.network.inject(PHONES[0]!, { kind: 'disconnect' }); // nothing can be sent from now on
    const waiting = 'this one has not gone out yet';
    const { id: queued } = await t.system.send({ to: RECIPIENTS[1]!, text: waiting });
    await t.advance(30 * 60_000, 60_000);
    // half-way: nothing removed yet
    expect((await t.system.outbox.find(delivered))?.text).toBe(secret);
    await t.advance(45 * 60_000, 60_000);

    const m = (await t.system.outbox.find(delivered))!;
    expect(m.text).toBeNull();
    expect(m.history.at(-1)?.note).toBe('text removed after 1 h');
    expect(m.history.map((h) => h.status).slice(0, 5)).toEqual([
      'queued',
      'assigned',
      'sending',
      'sent',
      'delivered',
    ]);
    expect(m.to).toBe(RECIPIENTS[0]);
    expect(filesContaining(t.dir, secret)).toEqual([]);
    expect(filesContaining(t.dir, delivered).length).toBeGreaterThan(0); // the record itself stays

    const q = (await t.system.outbox.find(queued))!;
    expect(q.status).toBe('queued');
    expect(q.text).toBe(waiting);
    expect(filesContaining(t.dir, waiting).length).toBeGreaterThan(0);
  });
});
