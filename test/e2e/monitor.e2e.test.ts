// The monitor over real HTTP (startServer on a free port, real time): a logout on one master opens a
// critical alert, the failover's info alert follows, `switchboard status` lists them, the ack holds,
// and heal + reset resolves them; the scrape of the running service passes promtool when installed.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';
import { type RunningServer, startServer } from '../../src/server.ts';
import { parsePrometheusText } from '../support/prom-text.ts';
import { runCli } from '../support/service.ts';
import { PHONES, RECIPIENTS, tempDir } from '../support/system.ts';
import { until } from '../support/wait.ts';

const A = PHONES[0]!;
const MASTERS = PHONES.slice(0, 3);
const dir = tempDir();
let server: RunningServer | undefined;

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

interface AlertBody {
  id: string;
  key: string;
  severity: string;
  state: string;
  message: string;
  master?: string;
  createdAt: string;
  acknowledgedAt?: string;
  resolvedAt?: string;
}

async function api<T>(path: string, init?: RequestInit): Promise<{ status: number; body: T }> {
  const res = await fetch(`${server!.url}${path}`, init);
  const text = await res.text();
  return {
    status: res.status,
    body: (res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text) as T,
  };
}

const post = (path: string, body?: unknown) =>
  api<unknown>(path, {
    method: 'POST',
    ...(body === undefined
      ? {}
      : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });

async function alert(key: string): Promise<AlertBody | undefined> {
  const { body } = await api<{ alerts: AlertBody[] }>('/api/alerts');
  return body.alerts.find((a) => a.key === key);
}

describe('monitor end to end over HTTP', () => {
  it("a logout opens a critical alert, the failover's info alert follows, the ack works, and heal + reset resolves them", async () => {
    server = await startServer({
      config: parseConfig({
        masters: MASTERS.map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 100_000 })),
        health: { intervalMs: 200, timeoutMs: 150, failureThreshold: 3, recoveryThreshold: 2 },
        recovery: { timeoutMs: 500, maxAttempts: 3, backoffBaseMs: 100, backoffMaxMs: 400 },
        sim: { latencyMs: 10 },
        http: { port: 0 },
        dataDir: dir,
      }),
      log: pino({ level: process.env.TEST_LOG ?? 'silent' }),
      graceMs: 100,
    });
    await until('ready', async () => (await api('/readyz')).status === 200);
    for (let i = 0; i < 12; i++)
      expect((await post('/api/messages', { to: RECIPIENTS[i], text: `e2e ${i}` })).status).toBe(202);

    const phone = encodeURIComponent(A);
    expect((await post(`/api/sim/masters/${phone}/fault`, { kind: 'logout' })).status).toBe(200);
    const critical = await until('the critical alert', () => alert(`master.failed:${A}`));
    expect(critical).toMatchObject({ severity: 'critical', state: 'open', master: A });
    expect(critical.message).toContain('logged out');
    const info = await until('the failover info alert', () => alert(`failover.completed:${A}`));
    expect(info).toMatchObject({ severity: 'info', state: 'open', master: A });
    expect(Date.parse(info.createdAt)).toBeGreaterThanOrEqual(Date.parse(critical.createdAt));
    const failovers = (
      await api<{ failovers: { id: string; from: string; status: string }[] }>('/api/failovers')
    ).body.failovers;
    const fo = failovers.find((f) => f.from === A && f.status === 'completed');
    expect(info.message).toContain(`failover ${fo!.id} moved`);

    // the CLI lists the open alerts
    const status = await runCli(['status', '--url', server.url]);
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/open alerts/);
    expect(status.stdout).toContain(critical.id);
    expect(status.stdout).toContain(`master.failed:${A}`);

    const ack = await post(`/api/alerts/${critical.id}/ack`);
    expect(ack.status).toBe(200);
    expect(ack.body).toMatchObject({
      id: critical.id,
      state: 'acknowledged',
      acknowledgedAt: expect.any(String),
    });
    expect(
      (await api<{ alerts: AlertBody[] }>('/api/alerts?state=acknowledged')).body.alerts.map((a) => a.id),
    ).toEqual([critical.id]);
    expect((await post('/api/alerts/al-424242/ack')).status).toBe(404);

    // the scrape of the running service
    const scrape = await api<string>('/metrics');
    expect(scrape.status).toBe(200);
    const families = parsePrometheusText(scrape.body);
    const failed = families
      .get('switchboard_master_state')!
      .samples.find((s) => s.labels.master === A && s.labels.state === 'failed');
    expect(failed?.value).toBe(1);
    if (spawnSync('promtool', ['--version']).status === 0) {
      const lint = spawnSync('promtool', ['check', 'metrics'], { input: scrape.body, encoding: 'utf8' });
      const problems = `${lint.stdout}${lint.stderr}`.trim().split('\n').filter(Boolean);
      expect(problems.filter((p) => !p.startsWith('nodejs_active_'))).toEqual([]);
    }

    expect((await post(`/api/sim/masters/${phone}/fault`, { kind: 'heal' })).status).toBe(200);
    expect((await post(`/api/masters/${phone}/reset`)).status).toBe(202);
    const resolved = await until('the critical alert resolved', async () => {
      const a = await alert(`master.failed:${A}`);
      return a?.state === 'resolved' ? a : undefined;
    });
    expect(resolved).toMatchObject({
      id: critical.id,
      acknowledgedAt: expect.any(String),
      resolvedAt: expect.any(String),
    });
    expect(await alert(`failover.completed:${A}`)).toMatchObject({ id: info.id, state: 'resolved' });
    expect(await alert(`master.needsRepair:${A}`)).toMatchObject({ state: 'resolved' });
    const open = (await api<{ alerts: AlertBody[] }>('/api/alerts?state=open')).body.alerts;
    expect(open).toEqual([]);
    const report = (await api<{ healthScore: number; failovers: { completed: number } }>('/api/report')).body;
    expect(report.failovers.completed).toBeGreaterThanOrEqual(1);
    expect(report.healthScore).toBeGreaterThan(0);
  });
});
