// The real service as a child process on a free port: 500 messages over HTTP while one master hangs
// and another disconnects; all end sent, each once in the simulated network unless marked unknown.
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { type ServiceProcess, startService, writeConfig } from '../support/service.ts';
import { PHONES, RECIPIENTS, tempDir } from '../support/system.ts';

const MASTERS = PHONES.slice(0, 4);
const TOTAL = 500;
const dir = tempDir();
let service: ServiceProcess | undefined;

afterAll(async () => {
  await service?.stop('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`${service!.url}${path}`, init);
  return { status: res.status, body: (await res.json()) as T };
}

const post = (path: string, body: unknown) =>
  api(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Msg {
  id: string;
  status: string;
  history: { status: string; note?: string }[];
}

describe('service end to end', () => {
  it('sends 500 messages exactly once through a hang and a disconnect, and shows the failovers', async () => {
    const config = writeConfig(dir, {
      masters: MASTERS.map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 100_000 })),
      health: { intervalMs: 200, timeoutMs: 150, failureThreshold: 3, recoveryThreshold: 2 },
      recovery: { timeoutMs: 500, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 400 },
      dispatch: { sendTimeoutMs: 1_000, maxInFlight: 4 },
      sim: { latencyMs: 15 },
    });
    service = await startService(['--config', config, '--port', '0', '--data-dir', dir]);
    await until('ready', async () => (await api('/readyz')).status === 200);

    const ids: string[] = [];
    for (let batch = 0; batch < TOTAL / 50; batch++) {
      if (batch === 3)
        expect(
          (await post(`/api/sim/masters/${encodeURIComponent(MASTERS[0]!)}/fault`, { kind: 'hang' })).status,
        ).toBe(200);
      if (batch === 5)
        expect(
          (await post(`/api/sim/masters/${encodeURIComponent(MASTERS[1]!)}/fault`, { kind: 'disconnect' }))
            .status,
        ).toBe(200);
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          post('/api/messages', {
            to: RECIPIENTS[(batch * 50 + i) % RECIPIENTS.length],
            text: `e2e ${batch}/${i}`,
          }),
        ),
      );
      for (const a of answers) {
        expect(a.status).toBe(202);
        ids.push((a.body as { id: string }).id);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(new Set(ids).size).toBe(TOTAL);

    await until('all 500 sent', async () => {
      const { body } = await api<{ counts: Record<string, number> }>('/api/messages?limit=1');
      const c = body.counts;
      return (c.sent ?? 0) + (c.delivered ?? 0) + (c.read ?? 0) >= TOTAL;
    });

    const { body: sends } = await api<{ sends: { messageId: string; master: string }[] }>('/api/sim/sends');
    const count = new Map<string, number>();
    for (const s of sends.sends) count.set(s.messageId, (count.get(s.messageId) ?? 0) + 1);
    let duplicates = 0;
    for (const id of ids) {
      const { status, body: m } = await api<Msg>(`/api/messages/${id}`);
      expect(status).toBe(200);
      expect(['sent', 'delivered', 'read']).toContain(m.status);
      const n = count.get(id) ?? 0;
      expect(n, `${id} never reached the network`).toBeGreaterThanOrEqual(1);
      if (n > 1) {
        duplicates++;
        expect(
          m.history.some((h) => h.status === 'unknown'),
          `${id} sent ${n} times without "unknown"`,
        ).toBe(true);
      }
    }
    // nothing went out on the hung master after it was failed over, and both incidents are listed
    const { body: fo } = await api<{
      failovers: { from: string; to: string | null; status: string; moved: { messages: number } }[];
    }>('/api/failovers');
    const from = new Set(fo.failovers.filter((f) => f.status === 'completed').map((f) => f.from));
    expect(from.has(MASTERS[0]!)).toBe(true);
    expect(from.has(MASTERS[1]!)).toBe(true);
    const { body: masters } = await api<{ masters: { phone: string; state: string }[] }>('/api/masters');
    const state = Object.fromEntries(masters.masters.map((m) => [m.phone, m.state]));
    expect(state[MASTERS[0]!]).not.toBe('healthy');
    expect(state[MASTERS[1]!]).not.toBe('healthy');
    console.log(
      `e2e: ${TOTAL} sent, ${duplicates} sent twice (all marked unknown), failovers: ${JSON.stringify(fo.failovers)}`,
    );

    expect(await service.stop('SIGTERM')).toBe(0);
    service = undefined;
  }, 120_000);
});
