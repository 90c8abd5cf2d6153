// The message path over real HTTP, in real time: one recipient's backlog does not delay another
// recipient, and a master that takes sends but never acknowledges them leaves rotation while no
// message goes on the wire more than maxAttempts times.
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { tempDir } from '../support/system.ts';

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const A = '+971501234567';
const B = '+971501234568';
const C = '+14155552671';
const silent = () => createLogger({ level: 'silent' });

interface MessageBody {
  id: string;
  status: string;
  master: string | null;
  history: { status: string; note?: string }[];
}

async function post(url: string, to: string, text: string): Promise<{ id: string }> {
  const res = await fetch(`${url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ to, text }),
  });
  expect(res.status).toBe(202);
  return (await res.json()) as { id: string };
}

async function message(url: string, id: string): Promise<MessageBody> {
  return (await (await fetch(`${url}/api/messages/${id}`)).json()) as MessageBody;
}

describe('the message path over HTTP', () => {
  it('1,100 messages to one recipient, then one to another: the other is sent within 2 s of being accepted', async () => {
    server = await startServer({
      config: parseConfig({ dataDir: tempDir(), http: { port: 0 }, sim: { latencyMs: 20 } }), // three sim masters at 60/min
      log: silent(),
    });
    const url = server.url;
    const busy = '+971501110001';
    for (let i = 0; i < 1_100; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, k) => post(url, busy, `backlog ${i + k}`)));
    }
    const { id } = await post(url, '+971501110002', 'not stuck behind them');
    const accepted = Date.now();
    let sentAfter = Number.POSITIVE_INFINITY;
    while (Date.now() - accepted < 10_000) {
      const m = await message(url, id);
      if (['sent', 'delivered', 'read'].includes(m.status)) {
        sentAfter = Date.now() - accepted;
        break;
      }
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(sentAfter).toBeLessThanOrEqual(2_000);
    const list = (await (await fetch(`${url}/api/messages?status=queued&limit=1`)).json()) as {
      counts: { queued: number };
    };
    expect(list.counts.queued).toBeGreaterThan(1_000); // the busy recipient still waits for its own number
  }, 60_000);

  it('with a "no-ack" master among three: every message ends sent elsewhere or failed with the reason, none on the wire more than maxAttempts times, and that master is failed over', async () => {
    server = await startServer({
      config: parseConfig({
        masters: [A, B, C].map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 100_000 })),
        health: { intervalMs: 200, timeoutMs: 150, failureThreshold: 3, recoveryThreshold: 2 },
        recovery: { timeoutMs: 1_000, maxAttempts: 3, backoffBaseMs: 200, backoffMaxMs: 1_000 },
        dispatch: { sendTimeoutMs: 400, maxInFlight: 4, maxAttempts: 3 },
        dataDir: tempDir(),
        http: { port: 0 },
        sim: { latencyMs: 10 },
      }),
      log: silent(),
    });
    const url = server.url;
    await new Promise((r) => setTimeout(r, 300));
    const fault = await fetch(`${url}/api/sim/masters/${encodeURIComponent(A)}/fault`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'no-ack' }),
    });
    expect(fault.status).toBe(200);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++)
      ids.push((await post(url, `+97150111${String(10000 + i).slice(1)}`, `n${i}`)).id);
    const deadline = Date.now() + 30_000;
    const final = new Map<string, MessageBody>();
    while (final.size < ids.length && Date.now() < deadline) {
      for (const id of ids) {
        if (final.has(id)) continue;
        const m = await message(url, id);
        if (['sent', 'delivered', 'read', 'failed'].includes(m.status)) final.set(id, m);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(final.size).toBe(ids.length);
    const { sends } = (await (await fetch(`${url}/api/sim/sends`)).json()) as {
      sends: { messageId: string; master: string }[];
    };
    for (const [id, m] of final) {
      const wire = sends.filter((s) => s.messageId === id);
      expect(wire.length, `${id} on the wire ${wire.length} times`).toBeLessThanOrEqual(3);
      if (m.status === 'failed')
        expect(m.history.at(-1)?.note).toMatch(
          /^no acknowledgement after \d attempts: it may have been delivered/,
        );
      else {
        expect(m.master).not.toBe(A);
        expect(wire.map((s) => s.master)).toContain(m.master);
      }
    }
    const { failovers } = (await (await fetch(`${url}/api/failovers`)).json()) as {
      failovers: { from: string; status: string; reason: string }[];
    };
    const fromA = failovers.filter((f) => f.from === A && f.status === 'completed');
    expect(fromA.length).toBeGreaterThan(0);
    expect(fromA.at(-1)?.reason).toMatch(/sends in a row failed or went unacknowledged/);
  }, 60_000);
});
