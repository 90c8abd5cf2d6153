// The monitor's arithmetic on numbers worked out by hand: percentiles, the health score formula of
// the README, trends, and a report built from a known context.
import { describe, expect, it } from 'vitest';
import { initialContext, type MonitorContext, trackOf } from '../../../machines/monitor.machine.ts';
import { healthScore, percentile, percentiles, ratio, trend } from '../../../src/monitor/figures.ts';
import { buildReport, type ReportSample, trendsOf } from '../../../src/monitor/report.ts';

const T0 = Date.UTC(2026, 0, 1);

describe('percentiles', () => {
  it('takes the nearest rank: p50 of 1..10 is 5, p95 and p99 are 10; p99 of 1..1000 is 990', () => {
    const ten = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    expect(percentiles(ten)).toEqual({ p50: 5, p95: 10, p99: 10 });
    const thousand = Array.from({ length: 1000 }, (_, i) => i + 1);
    expect(percentiles(thousand)).toEqual({ p50: 500, p95: 950, p99: 990 });
    expect(percentile([42], 99)).toBe(42);
    expect(percentiles([])).toBeNull();
  });

  it('answers 1 for availability when no time passed, and clamps to 0..1', () => {
    expect(ratio(0, 0)).toBe(1);
    expect(ratio(750, 1_000)).toBe(0.75);
    expect(ratio(2_000, 1_000)).toBe(1);
  });
});

describe('health score', () => {
  const base = {
    availability: 1,
    sends: { sent: 0, failed: 0, unknown: 0 },
    queueLength: 0,
    queueWarning: 100,
    queueCritical: 1_100,
    balanceQuality: 100,
    strategy: 'round-robin',
    storeAvailable: true,
  };
  const three = (states: ('healthy' | 'degraded' | 'failed' | 'recovering')[]) =>
    states.map((state) => ({ weight: 1, state }));

  it('is 100 for a fleet of healthy masters with nothing wrong', () => {
    expect(healthScore({ ...base, masters: three(['healthy', 'healthy', 'healthy']) }).score).toBe(100);
  });

  it('weighs capacity 0.4, availability 0.2, send success 0.2, queue 0.1, balance 0.1', () => {
    // capacity (1 + 0.5 + 0) / 3 = 0.5; availability 0.9; sends 90/100 = 0.9;
    // queue (600 - 100) / 1000 over warning = 0.5 left; balance 0.6
    // 100 x (0.4 x 0.5 + 0.2 x 0.9 + 0.2 x 0.9 + 0.1 x 0.5 + 0.1 x 0.6) = 67
    const r = healthScore({
      ...base,
      masters: three(['healthy', 'degraded', 'failed']),
      availability: 0.9,
      sends: { sent: 90, failed: 6, unknown: 4 },
      queueLength: 600,
      balanceQuality: 60,
    });
    expect(r.parts).toEqual({ capacity: 0.5, availability: 0.9, sendSuccess: 0.9, queue: 0.5, balance: 0.6 });
    expect(r.score).toBe(67);
  });

  it('weighs masters by their weight, and ignores balance under the priority strategy', () => {
    const r = healthScore({
      ...base,
      masters: [
        { weight: 3, state: 'healthy' },
        { weight: 1, state: 'failed' },
      ],
      balanceQuality: 10,
      strategy: 'priority',
    });
    // 100 x (0.4 x 0.75 + 0.2 + 0.2 + 0.1 + 0.1) = 90
    expect(r.score).toBe(90);
  });

  it('is 0 when no master is routable or the store cannot write', () => {
    expect(healthScore({ ...base, masters: three(['failed', 'recovering', 'failed']) }).score).toBe(0);
    expect(
      healthScore({ ...base, masters: three(['healthy', 'healthy', 'healthy']), storeAvailable: false })
        .score,
    ).toBe(0);
  });
});

describe('trend', () => {
  it('fits a line through the samples: a queue growing 60 per minute rises 3,600 per hour', () => {
    const points = Array.from({ length: 5 }, (_, i) => ({ at: T0 + i * 60_000, value: 100 + 60 * i }));
    expect(trend(points)).toEqual({
      samples: 5,
      first: 100,
      last: 340,
      min: 100,
      max: 340,
      mean: 220,
      slopePerHour: 3_600,
      direction: 'up',
    });
  });

  it('calls a change under 5% of the mean flat, and leaves out missing values', () => {
    const points = [
      { at: T0, value: 100 },
      { at: T0 + 60_000, value: null },
      { at: T0 + 120_000, value: 102 },
    ];
    expect(trend(points)).toMatchObject({ samples: 2, direction: 'flat', slopePerHour: 60 });
    expect(
      trend([
        { at: T0, value: 90 },
        { at: T0 + 60_000, value: 60 },
      ]).direction,
    ).toBe('down');
    expect(trend([]).direction).toBeNull();
  });

  it('gives every history figure a trend', () => {
    const sample = (i: number): ReportSample => ({
      at: T0 + i * 60_000,
      windowMs: 60_000,
      healthScore: 100 - 10 * i,
      availability: 1,
      masters: 3,
      routable: 3 - i,
      queueLength: 10 * i,
      sends: { sent: 10, failed: i, unknown: 0 },
      latencyMs: { p50: 20, p95: 40 + i, p99: 50 },
      failovers: { started: i, completed: i, rolledBack: 0 },
      balanceQuality: 100,
      alertsOpen: { critical: i, warning: 0, info: 0 },
    });
    const t = trendsOf([sample(0), sample(1), sample(2)]);
    expect(t.healthScore).toMatchObject({ first: 100, last: 80, direction: 'down', slopePerHour: -600 });
    expect(t.queueLength).toMatchObject({ direction: 'up' });
    expect(t.availability).toMatchObject({ direction: 'flat' });
    expect(t.sendSuccess.last).toBeCloseTo(10 / 12);
  });
});

describe('report', () => {
  it('turns a known context into the figures of the README: window availability, per-master figures, score', () => {
    const A = '+971501234567';
    const B = '+971501234568';
    let c: MonitorContext = initialContext({ startedAt: T0, masters: [A, B] });
    c = {
      ...c,
      masters: [
        { ...trackOf(c, A)!, state: 'healthy', detail: null, routable: true },
        { ...trackOf(c, B)!, state: 'failed', detail: 'backoff', routable: false, lastError: 'down' },
      ],
      fleet: { ...c.fleet, routable: 1 },
      failovers: {
        ...c.failovers,
        started: 3,
        completed: 2,
        rolledBack: 1,
        durationsMs: [40, 60],
        detectionsMs: [1_000, 3_000],
      },
    };
    const report = buildReport({
      now: T0 + 120_000,
      context: c,
      from: {
        at: T0 + 60_000,
        fleetUpMs: 60_000,
        masterUpMs: { [A]: 60_000, [B]: 60_000 },
        sends: { sent: 10, failed: 0, unknown: 0 },
        failovers: { started: 0, completed: 0, rolledBack: 0 },
      },
      current: {
        at: T0 + 120_000,
        // in the window: the fleet up 54 s of 60, A up 54 s, B up 15 s
        fleetUpMs: 114_000,
        masterUpMs: { [A]: 114_000, [B]: 75_000 },
        sends: { sent: 100, failed: 10, unknown: 0 },
        failovers: { started: 3, completed: 2, rolledBack: 1 },
      },
      masters: [
        {
          phone: A,
          weight: 1,
          inFlight: 2,
          owned: 5,
          sends: { sent: 80, failed: 0, unknown: 0 },
          latency: { p50: 20, p95: 30, p99: 40 },
        },
        {
          phone: B,
          weight: 1,
          inFlight: 0,
          owned: 0,
          sends: { sent: 20, failed: 10, unknown: 0 },
          latency: null,
        },
      ],
      fleetLatency: { p50: 20, p95: 30, p99: 40 },
      queueLength: 0,
      history: [],
      intervalMs: 60_000,
    });
    expect(report.window).toEqual({
      from: new Date(T0 + 60_000).toISOString(),
      to: new Date(T0 + 120_000).toISOString(),
      ms: 60_000,
    });
    expect(report.fleet).toMatchObject({ availability: 0.9, availabilitySinceStart: 0.95, routable: 1 });
    expect(report.fleet.sends).toEqual({ sent: 90, failed: 10, unknown: 0, successRate: 0.9 });
    expect(
      report.masters.map((m) => [m.phone, m.availability, m.availabilitySinceStart, m.queueLength]),
    ).toEqual([
      [A, 0.9, 0.95, 3],
      [B, 0.25, 0.625, 0],
    ]);
    // capacity 0.5, availability 0.9, sends 0.9, queue 1, balance 1: 100 x (0.2 + 0.18 + 0.18 + 0.1 + 0.1) = 76
    expect(report.healthScore).toBe(76);
    expect(report.failovers).toMatchObject({
      count: 3,
      successRate: 0.6667,
      durationMs: { p50: 40, p95: 60, p99: 60 },
      detectionMs: { p50: 1_000, p95: 3_000, p99: 3_000 },
      inWindow: { started: 3, completed: 2, rolledBack: 1 },
    });
  });
});
