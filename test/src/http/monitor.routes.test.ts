// The monitor's HTTP surface over a real switchboard (sim masters, store in a temp dir, real time):
// /metrics parsed as Prometheus text (names, types, label sets; promtool check metrics when it is
// installed, as in CI), /api/alerts with its filters and errors, the ack, /api/report, /api/dashboard.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../../src/app.ts';
import { createSwitchboard, type Switchboard } from '../../../src/switchboard.ts';
import { type Family, labelSets, parsePrometheusText } from '../../support/prom-text.ts';
import { PHONES, RECIPIENTS, tempDir, testConfig } from '../../support/system.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
const A = PHONES[0]!;
const MASTERS = PHONES.slice(0, 3);

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Every switchboard_ family, its type and its label sets (one entry per set, `le` left out). */
const EXPECTED: Record<string, [Family['type'], string[]]> = {
  switchboard_master_state: ['gauge', ['master,state']],
  switchboard_master_routable: ['gauge', ['master']],
  switchboard_masters_routable: ['gauge', ['']],
  switchboard_master_consecutive_failures: ['gauge', ['master']],
  switchboard_master_recovery_attempts: ['gauge', ['master']],
  switchboard_messages_total: ['counter', ['outcome']],
  switchboard_sends_total: ['counter', ['master,outcome']],
  switchboard_send_latency_seconds: ['histogram', ['master']],
  switchboard_queue_length: ['gauge', ['']],
  switchboard_failovers_total: ['counter', ['outcome']],
  switchboard_failover_duration_seconds: ['histogram', ['']],
  switchboard_failure_detection_seconds: ['histogram', ['']],
  switchboard_alerts_open: ['gauge', ['severity']],
  switchboard_balance_quality_ratio: ['gauge', ['']],
  switchboard_health_score_ratio: ['gauge', ['']],
  switchboard_store_commit_seconds: ['histogram', ['']],
  switchboard_store_written_bytes_total: ['counter', ['']],
  switchboard_store_faults_total: ['counter', ['']],
  switchboard_store_available: ['gauge', ['']],
  // no webhook is configured here: the families exist without series (test/actors/webhooks.test.ts has them)
  switchboard_webhook_attempts_total: ['counter', []],
  switchboard_webhook_parked_total: ['counter', []],
  switchboard_webhook_request_seconds: ['histogram', []],
  switchboard_webhook_queue: ['gauge', []],
};

/** prom-client's default gauges that promtool's lint calls misnamed (a gauge ending in _total). */
const PROM_CLIENT_LINT = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

describe('monitor routes', () => {
  let sb: Switchboard;
  let app: FastifyInstance;
  let dir: string;

  beforeAll(async () => {
    dir = tempDir();
    sb = await createSwitchboard(testConfig(dir, 3), { log, fsync: false });
    await until('three healthy masters', () => sb.getHealthyMasters().length === 3);
    await Promise.all(RECIPIENTS.slice(0, 6).map((to, i) => sb.send({ to, text: `hello ${i}` })));
    await until('sends', () => sb.getPerformanceMetrics().sends.sent >= 6);
    sb.injectFault(A, { kind: 'logout' });
    await until('the failover of the logged-out master', () =>
      sb.getFailovers().some((f) => f.from === A && f.status === 'completed'),
    );
    app = await buildApp({ switchboard: sb, log });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await sb?.stop(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves GET /metrics as Prometheus text: the switchboard_ families with their types and label sets, and process metrics', async () => {
    const res = await app.inject({ method: 'GET', url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusText(res.body);
    const ours = [...families.values()].filter((f) => f.name.startsWith('switchboard_'));
    expect(Object.fromEntries(ours.map((f) => [f.name, [f.type, labelSets(f)]]))).toEqual(EXPECTED);
    // prom-client's process metrics
    expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(families.get('nodejs_heap_size_used_bytes')?.type).toBe('gauge');
    // bounded labels: masters are the configured phones, states and outcomes from fixed lists
    const values = (name: string, label: string) =>
      new Set(families.get(name)!.samples.map((s) => s.labels[label]));
    expect(values('switchboard_master_state', 'master')).toEqual(new Set(MASTERS));
    expect(values('switchboard_master_state', 'state')).toEqual(
      new Set(['healthy', 'degraded', 'failed', 'recovering']),
    );
    expect(values('switchboard_failovers_total', 'outcome')).toEqual(
      new Set(['started', 'completed', 'rolled_back']),
    );
    expect(values('switchboard_alerts_open', 'severity')).toEqual(new Set(['critical', 'warning', 'info']));
    for (const f of ours) {
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      if (f.type === 'histogram') expect(f.name).toMatch(/_seconds$/);
    }
  });

  it('shows in /metrics what happened: one state per master, the logged-out master failed, a failover completed, sends and store commits counted', async () => {
    const families = parsePrometheusText((await app.inject({ method: 'GET', url: '/metrics' })).body);
    const value = (name: string, labels: Record<string, string> = {}) =>
      families
        .get(name.replace(/_(count|sum|bucket)$/, ''))!
        .samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0);
    for (const m of MASTERS) expect(value('switchboard_master_state', { master: m })).toBe(1);
    expect(value('switchboard_master_state', { master: A, state: 'failed' })).toBe(1);
    expect(value('switchboard_master_routable', { master: A })).toBe(0);
    expect(value('switchboard_master_routable', { master: PHONES[1]! })).toBe(1);
    expect(value('switchboard_masters_routable')).toBe(2);
    expect(value('switchboard_failovers_total', { outcome: 'completed' })).toBeGreaterThanOrEqual(1);
    expect(value('switchboard_sends_total', { outcome: 'sent' })).toBeGreaterThanOrEqual(6);
    expect(value('switchboard_messages_total', { outcome: 'accepted' })).toBe(6);
    expect(value('switchboard_send_latency_seconds_count')).toBeGreaterThanOrEqual(6);
    expect(value('switchboard_store_commit_seconds_count')).toBeGreaterThan(0);
    expect(value('switchboard_store_written_bytes_total')).toBeGreaterThan(0);
    expect(value('switchboard_store_available')).toBe(1);
    expect(value('switchboard_alerts_open', { severity: 'critical' })).toBeGreaterThanOrEqual(1);
  });

  it.skipIf(spawnSync('promtool', ['--version']).status !== 0)(
    'passes promtool check metrics (prom-client\'s three "_total" gauges aside, which its lint names)',
    async () => {
      const body = (await app.inject({ method: 'GET', url: '/metrics' })).body;
      const whole = spawnSync('promtool', ['check', 'metrics'], { input: body, encoding: 'utf8' });
      const problems = `${whole.stdout}${whole.stderr}`.trim().split('\n').filter(Boolean);
      for (const p of problems)
        expect(
          PROM_CLIENT_LINT.some((name) => p.startsWith(`${name} `)),
          p,
        ).toBe(true);
      const ours = body
        .split('\n')
        .filter((line) => !PROM_CLIENT_LINT.some((name) => line.includes(name)))
        .join('\n');
      const checked = spawnSync('promtool', ['check', 'metrics'], { input: ours, encoding: 'utf8' });
      expect(`${checked.stdout}${checked.stderr}`.trim()).toBe('');
      expect(checked.status).toBe(0);
    },
  );

  it('lists alerts newest first, filters by severity and state, and refuses unknown filter values with 400 SB_ERR_VALIDATION', async () => {
    const all = (await app.inject({ method: 'GET', url: '/api/alerts' })).json().alerts;
    expect(all.length).toBeGreaterThanOrEqual(3);
    const created = all.map((a: { createdAt: string }) => a.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
    expect(all.find((a: { key: string }) => a.key === `master.failed:${A}`)).toEqual({
      id: expect.stringMatching(/^al-\d+$/),
      key: `master.failed:${A}`,
      severity: 'critical',
      state: 'open',
      message: expect.stringContaining('logged out'),
      master: A,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const critical = (await app.inject({ method: 'GET', url: '/api/alerts?severity=critical' })).json()
      .alerts;
    expect(critical.length).toBeGreaterThan(0);
    expect(critical.every((a: { severity: string }) => a.severity === 'critical')).toBe(true);
    const info = (await app.inject({ method: 'GET', url: '/api/alerts?severity=info&state=open' })).json()
      .alerts;
    expect(info.map((a: { key: string }) => a.key)).toContain(`failover.completed:${A}`);
    expect(
      (await app.inject({ method: 'GET', url: '/api/alerts?state=resolved&severity=info' })).json().alerts,
    ).toEqual([]);
    for (const query of ['severity=fatal', 'state=closed']) {
      const res = await app.inject({ method: 'GET', url: `/api/alerts?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json()).toMatchObject({ code: 'SB_ERR_VALIDATION' });
    }
  });

  it('acknowledges an alert with POST /api/alerts/:id/ack (200 with the alert, again 200 unchanged) and answers 404 SB_ERR_UNKNOWN_ALERT for an unknown id', async () => {
    const [alert] = (
      await app.inject({ method: 'GET', url: '/api/alerts?severity=critical&state=open' })
    ).json().alerts as { id: string }[];
    const res = await app.inject({ method: 'POST', url: `/api/alerts/${alert!.id}/ack` });
    expect(res.statusCode).toBe(200);
    const acked = res.json();
    expect(acked).toMatchObject({ id: alert!.id, state: 'acknowledged', acknowledgedAt: expect.any(String) });
    const again = await app.inject({ method: 'POST', url: `/api/alerts/${alert!.id}/ack` });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(acked);
    const listed = (await app.inject({ method: 'GET', url: '/api/alerts?state=acknowledged' })).json().alerts;
    expect(listed.map((a: { id: string }) => a.id)).toContain(alert!.id);
    const missing = await app.inject({ method: 'POST', url: '/api/alerts/al-99999/ack' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'no alert al-99999',
      code: 'SB_ERR_UNKNOWN_ALERT',
    });
  });

  it('answers GET /api/report with the health report and GET /api/dashboard with its data', async () => {
    const report = (await app.inject({ method: 'GET', url: '/api/report' })).json();
    expect(report).toMatchObject({
      healthScore: expect.any(Number),
      fleet: { masters: 3, routable: 2, storeAvailable: true },
      failovers: { count: expect.any(Number), completed: expect.any(Number) },
      alerts: {
        open: { critical: expect.any(Number), warning: expect.any(Number), info: expect.any(Number) },
      },
      trends: { healthScore: expect.objectContaining({ samples: 0 }) },
    });
    expect(report.healthScore).toBeGreaterThan(0);
    expect(report.healthScore).toBeLessThan(100);
    expect(report.masters.map((m: { phone: string }) => m.phone)).toEqual(MASTERS);
    expect(report.masters[0]).toMatchObject({
      phone: A,
      state: 'failed',
      detail: 'needsRepair',
      routable: false,
    });
    expect(report.masters[1].latencyMs).toEqual({
      p50: expect.any(Number),
      p95: expect.any(Number),
      p99: expect.any(Number),
    });
    const dashboard = (await app.inject({ method: 'GET', url: '/api/dashboard' })).json();
    expect(dashboard).toMatchObject({
      healthScore: expect.any(Number),
      fleet: { masters: 3 },
      alerts: { counts: { critical: expect.any(Number) } },
      failovers: {
        recent: expect.arrayContaining([expect.objectContaining({ from: A, status: 'completed' })]),
      },
      balance: { strategy: 'round-robin', shares: expect.any(Array) },
      history: [],
    });
    expect(dashboard.alerts.active.some((a: { key: string }) => a.key === `master.failed:${A}`)).toBe(true);
  });
});
