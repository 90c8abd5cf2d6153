// The monitor in the wired system, on XState's SimulatedClock and the simulated file layer: real
// faults (hang, logout, disconnect, no-ack, a failing disk, a growing queue, traffic to one
// recipient) open their alerts once, acknowledgements hold, healing resolves them, a restart keeps
// them, and the report's figures match the timeline the test drove.
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../machines/monitor.machine.ts';
import type { ConfigInput } from '../../src/config.ts';
import { Store } from '../../src/store/store.ts';
import { simClock } from '../support/clock.ts';
import { SimFileSystem } from '../support/sim-fs.ts';
import { PHONES, RECIPIENTS, startTestSystem, type TestSystem } from '../support/system.ts';

let t: TestSystem | undefined;
afterEach(async () => {
  await t?.close().catch(() => undefined);
  t = undefined;
});

const A = PHONES[0]!;
const B = PHONES[1]!;
const T0 = Date.UTC(2026, 0, 1);

interface Started {
  t: TestSystem;
  fs: SimFileSystem;
  clock: ReturnType<typeof simClock>;
  lines: Record<string, unknown>[];
}

/** A system on the simulated file layer whose log lines the test can read. */
async function start(
  options: {
    masters?: number;
    config?: Partial<ConfigInput>;
    fs?: SimFileSystem;
    clock?: ReturnType<typeof simClock>;
  } = {},
): Promise<Started> {
  const clock = options.clock ?? simClock();
  if (!options.clock) clock.set(T0);
  const fs = options.fs ?? new SimFileSystem(clock);
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  t = await startTestSystem({
    fs,
    clock,
    log,
    store: { retryMs: { base: 200, max: 1_000 } },
    ...(options.masters === undefined ? {} : { masters: options.masters }),
    ...(options.config === undefined ? {} : { config: options.config }),
  });
  return { t, fs, clock, lines };
}

const alertsOf = (t: TestSystem, key: string): Alert[] =>
  t.system.monitor.getAlerts().filter((a) => a.key === key);

/** Sends `n` messages without waiting for them (to recipients chosen by `to`). */
function send(
  t: TestSystem,
  n: number,
  to: (i: number) => string = (i) => RECIPIENTS[i % RECIPIENTS.length]!,
) {
  for (let i = 0; i < n; i++) void t.system.send({ to: to(i), text: `m${i}` }).catch(() => undefined);
}

describe('monitor alerts in the running system', () => {
  it('a hung master opens one critical "master.failed" through its backoff cycles, the failover\'s info alert follows, the ack holds, and "heal" resolves both', async () => {
    const { t, lines } = await start();
    await t.advance(200);
    send(t, 20);
    t.network.inject(A, { kind: 'hang' });
    await t.advance(6_000);
    const [failed] = alertsOf(t, `master.failed:${A}`);
    expect(failed).toMatchObject({ severity: 'critical', state: 'open', master: A });
    const [info] = alertsOf(t, `failover.completed:${A}`);
    expect(info).toMatchObject({
      severity: 'info',
      state: 'open',
      message: expect.stringMatching(/^failover fo-1 moved/),
    });
    expect(info!.createdAt).toBeGreaterThanOrEqual(failed!.createdAt);

    const acked = await t.system.monitor.acknowledgeAlert(failed!.id);
    expect(acked).toMatchObject({ id: failed!.id, state: 'acknowledged', acknowledgedAt: t.clock.now() });
    // several reconnect attempts fail meanwhile: still one alert, still acknowledged
    await t.advance(5_000);
    expect(t.system.masterRef(A)?.getSnapshot().context.recoveryAttempts).toBeGreaterThan(1);
    expect(alertsOf(t, `master.failed:${A}`)).toEqual([
      expect.objectContaining({ id: failed!.id, state: 'acknowledged' }),
    ]);

    t.network.inject(A, { kind: 'heal' });
    t.system.manualReset(A);
    await t.advance(5_000);
    expect(t.system.masterRef(A)?.getSnapshot().value).toBe('healthy');
    expect(alertsOf(t, `master.failed:${A}`)).toEqual([expect.objectContaining({ state: 'resolved' })]);
    expect(alertsOf(t, `failover.completed:${A}`)).toEqual([expect.objectContaining({ state: 'resolved' })]);
    // every change a log line
    const changes = lines.filter((l) => typeof l.msg === 'string' && /^alert /.test(l.msg as string));
    expect(changes.filter((l) => l.alert === failed!.id).map((l) => (l.msg as string).split(':')[0])).toEqual(
      ['alert opened', 'alert acknowledged', 'alert resolved'],
    );
    expect(changes.find((l) => l.alert === failed!.id)).toMatchObject({
      level: 50,
      severity: 'critical',
      master: A,
    });
  });

  it('opens "fleet.unroutable" when the only master fails and resolves it when the master is back', async () => {
    const { t } = await start({ masters: 1 });
    await t.advance(200);
    t.network.inject(A, { kind: 'hang' });
    await t.advance(5_000);
    expect(alertsOf(t, 'fleet.unroutable')).toEqual([
      expect.objectContaining({
        severity: 'critical',
        state: 'open',
        message: 'no master is routable: messages wait in the queue',
      }),
    ]);
    t.network.inject(A, { kind: 'heal' });
    t.system.manualReset(A);
    await t.advance(5_000);
    expect(alertsOf(t, 'fleet.unroutable')).toEqual([expect.objectContaining({ state: 'resolved' })]);
  });

  it('a failing disk opens "store.unavailable" and a rolled-back failover "failover.rolledBack"; both resolve when the disk heals, and the disk then holds them resolved', async () => {
    const { t, fs } = await start();
    await t.advance(200);
    send(t, 30);
    t.network.inject(A, { kind: 'hang' });
    await t.advance(2_600);
    fs.fail({ op: 'sync', code: 'EIO', path: 'journal-' });
    await t.advance(6_000);
    expect(alertsOf(t, 'store.unavailable')).toEqual([
      expect.objectContaining({
        severity: 'critical',
        state: 'open',
        message: expect.stringContaining('EIO'),
      }),
    ]);
    expect(alertsOf(t, `failover.rolledBack:${A}`)).toEqual([
      expect.objectContaining({
        severity: 'critical',
        state: 'open',
        message: expect.stringMatching(/^failover fo-\d+ of/),
      }),
    ]);
    fs.heal();
    await t.advance(40_000);
    expect(t.store.available).toBe(true);
    expect(alertsOf(t, 'store.unavailable')).toEqual([expect.objectContaining({ state: 'resolved' })]);
    expect(alertsOf(t, `failover.rolledBack:${A}`)).toEqual([expect.objectContaining({ state: 'resolved' })]);
    // written after the recovery: what the disk holds is what the monitor shows
    await t.store.flushed();
    const disk = await Store.open('/data', { fs: fs.image(), lock: false, checkpointer: 'off' });
    const onDisk = [...disk.map('alerts').values()].sort((a, b) => a.id.localeCompare(b.id));
    disk.halt();
    expect(onDisk).toEqual(t.system.monitor.getAlerts().sort((a, b) => a.id.localeCompare(b.id)));
  });

  it('opens "queue.length" as a warning, escalates it to critical, and resolves it when the queue drains', async () => {
    const { t } = await start({ masters: 1, config: { monitor: { queueWarning: 5, queueCritical: 20 } } });
    await t.advance(200);
    t.network.inject(A, { kind: 'hang' });
    await t.advance(5_000);
    send(t, 10);
    await t.advance(100);
    expect(alertsOf(t, 'queue.length')).toEqual([
      expect.objectContaining({ severity: 'warning', state: 'open' }),
    ]);
    send(t, 20);
    await t.advance(100);
    expect(t.system.outbox.queueLength).toBeGreaterThanOrEqual(20);
    expect(alertsOf(t, 'queue.length')).toEqual([
      expect.objectContaining({ severity: 'critical', state: 'open' }),
    ]);
    t.network.inject(A, { kind: 'heal' });
    t.system.manualReset(A);
    await t.advance(10_000);
    expect(t.system.outbox.queueLength).toBe(0);
    expect(alertsOf(t, 'queue.length')).toEqual([
      expect.objectContaining({ severity: 'critical', state: 'resolved' }),
    ]);
  });

  it('opens "balance.imbalance" when all traffic goes to one master (one recipient, affinity on), and a switch to "priority" resolves it at once', async () => {
    const { t } = await start({
      config: { monitor: { balanceQualityWarning: 80, sampleIntervalMs: 1_000 } },
    });
    await t.advance(200);
    send(t, 30, () => RECIPIENTS[0]!);
    await t.advance(3_000);
    expect(t.system.balancer.getLoadDistribution().quality).toBeLessThan(80);
    expect(alertsOf(t, 'balance.imbalance')).toEqual([
      expect.objectContaining({ severity: 'warning', state: 'open' }),
    ]);
    t.system.balancer.setStrategy('priority');
    expect(alertsOf(t, 'balance.imbalance')).toEqual([expect.objectContaining({ state: 'resolved' })]);
  });

  it('opens "master.exhausted" when reconnects run out, and "heal" plus a reset resolves it', async () => {
    const { t } = await start();
    await t.advance(200);
    t.network.inject(A, { kind: 'disconnect' });
    await t.advance(15_000);
    expect(t.system.masterRef(A)?.getSnapshot().matches({ failed: 'exhausted' })).toBe(true);
    expect(alertsOf(t, `master.exhausted:${A}`)).toEqual([
      expect.objectContaining({
        severity: 'warning',
        state: 'open',
        message: expect.stringContaining('recovery attempts'),
      }),
    ]);
    t.network.inject(A, { kind: 'heal' });
    t.system.manualReset(A);
    await t.advance(5_000);
    expect(alertsOf(t, `master.exhausted:${A}`)).toEqual([expect.objectContaining({ state: 'resolved' })]);
  });

  it('opens "master.needsRepair" and "master.failed" on a "logout", and "heal" plus a reset resolves them', async () => {
    const { t } = await start();
    await t.advance(200);
    t.network.inject(A, { kind: 'logout' });
    await t.advance(100);
    expect(alertsOf(t, `master.needsRepair:${A}`)).toEqual([
      expect.objectContaining({
        severity: 'warning',
        state: 'open',
        message: expect.stringContaining('logged out'),
      }),
    ]);
    expect(alertsOf(t, `master.failed:${A}`)).toEqual([expect.objectContaining({ severity: 'critical' })]);
    t.network.inject(A, { kind: 'heal' });
    t.system.manualReset(A);
    await t.advance(5_000);
    expect(alertsOf(t, `master.needsRepair:${A}`)).toEqual([expect.objectContaining({ state: 'resolved' })]);
    expect(alertsOf(t, `master.failed:${A}`)).toEqual([expect.objectContaining({ state: 'resolved' })]);
  });

  it('opens "master.ejected" when unacknowledged sends take a master out while its probes pass, and resolves it once it is back', async () => {
    const { t } = await start({ masters: 2 });
    await t.advance(200);
    t.network.inject(A, { kind: 'no-ack' });
    send(t, 40);
    await t.advance(8_000);
    const [ejected] = alertsOf(t, `master.ejected:${A}`);
    expect(ejected).toMatchObject({
      severity: 'warning',
      message: expect.stringContaining('sends in a row failed or went unacknowledged'),
    });
    expect(alertsOf(t, `master.ejected:${B}`)).toEqual([]);
    t.network.inject(A, { kind: 'heal' });
    await t.advance(20_000);
    expect(t.system.balancer.isRoutable(A)).toBe(true);
    expect(alertsOf(t, `master.ejected:${A}`)).toEqual([expect.objectContaining({ state: 'resolved' })]);
  });

  it('keeps alerts across a restart: the open one keeps its id and acknowledgement until its condition clears, and new ids go on after the old ones', async () => {
    const first = await start();
    await first.t.advance(200);
    first.t.network.inject(A, { kind: 'logout' });
    await first.t.advance(100);
    const [failed] = alertsOf(first.t, `master.failed:${A}`);
    await first.t.system.monitor.acknowledgeAlert(failed!.id);
    const before = first.t.system.monitor.getAlerts();
    const highest = Math.max(...before.map((a) => Number(a.id.slice(3))));
    await first.t.close();
    t = undefined;

    // the same disk and clock; a new simulated network, where the master is not logged out
    const second = await start({ fs: first.fs, clock: first.clock });
    expect(second.t.system.monitor.getAlert(failed!.id)).toMatchObject({ state: 'acknowledged' });
    await second.t.advance(3_000);
    expect(second.t.system.monitor.getAlert(failed!.id)).toMatchObject({ state: 'resolved' });
    second.t.network.inject(B, { kind: 'logout' });
    await second.t.advance(100);
    const [next] = alertsOf(second.t, `master.failed:${B}`);
    expect(Number(next!.id.slice(3))).toBe(highest + 1);
    const ids = second.t.system.monitor.getAlerts().map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('monitor reports in the running system', () => {
  it('reports every reportIntervalMs: logged, kept in a bounded history on disk, with availability and detection from the timeline driven', async () => {
    const { t, fs, lines } = await start({
      masters: 2,
      config: { monitor: { reportIntervalMs: 10_000, historySize: 3 } },
    });
    await t.advance(1_000);
    // A: logged out at 2 s (out of rotation at once), back after a reset at 4 s
    await t.advance(1_000);
    const out = t.clock.now();
    t.network.inject(A, { kind: 'logout' });
    await t.advance(2_000);
    t.network.inject(A, { kind: 'heal' });
    t.system.manualReset(A);
    await t.advance(6_000 - 2);
    // 10 s: the first report
    const back = Date.parse(t.system.monitor.getHealthReport().masters[0]!.since);
    expect(back).toBeGreaterThan(out);
    await t.advance(2);
    const reports = lines.filter((l) => l.msg === 'health report');
    expect(reports).toHaveLength(1);
    const report = t.system.monitor.report();
    // A was out from `out` to `back`; B never; the fleet never
    const startedAt = T0;
    const window = t.clock.now() - startedAt;
    const a = report.masters.find((m) => m.phone === A)!;
    expect(a.availabilitySinceStart).toBeCloseTo(1 - (back - out + 20) / window, 3);
    expect(report.fleet.availabilitySinceStart).toBeCloseTo(1 - 20 / window, 3);
    expect(report.failovers).toMatchObject({
      count: 1,
      completed: 1,
      successRate: 1,
      detectionMs: { p50: 0 },
    });

    // a hang on B: probes every 1 s time out after 500 ms; the third failure in a row fails it,
    // 2 x (1,000 + 500) ms after the first
    t.network.inject(B, { kind: 'hang' });
    await t.advance(8_000);
    const later = t.system.monitor.getHealthReport();
    expect(later.failovers.detectionMs).toEqual({ p50: 0, p95: 3_000, p99: 3_000 });

    await t.advance(40_000);
    // at 58 s: the periodic reports of 10 ... 50 s and the one asked for at 10 s; the history keeps the last 3
    expect(lines.filter((l) => l.msg === 'health report')).toHaveLength(6);
    const history = t.system.monitor.history();
    expect(history.map((h) => h.at)).toEqual([T0 + 30_000, T0 + 40_000, T0 + 50_000]);
    await t.store.flushed();
    const disk = await Store.open('/data', { fs: fs.image(), lock: false, checkpointer: 'off' });
    expect([...disk.map('reports').values()].map((r) => r.at).sort()).toEqual(history.map((h) => h.at));
    disk.halt();
  });
});
