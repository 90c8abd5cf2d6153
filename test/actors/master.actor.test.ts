// The master actor with its real probe, reconnect and connection listener over the sim transport,
// on a SimulatedClock (default settings: probe every 5 s, timeout 2 s, 3 failures -> failed).
import { afterEach, describe, expect, it } from 'vitest';
import { simMaster } from '../support/master.ts';

let current: ReturnType<typeof simMaster> | undefined;
function master(...args: Parameters<typeof simMaster>) {
  current = simMaster(...args);
  return current;
}
afterEach(() => current?.actor.stop());

describe('master actor over the sim transport', () => {
  it('connects and reaches "healthy", emitting "master.healthy"', async () => {
    const m = master();
    await m.advance(100);
    expect(m.state()).toBe('healthy');
    expect(m.facts.map((f) => f.type)).toEqual(['master.recovering', 'master.healthy']);
    await m.advance(30_000);
    expect(m.state()).toBe('healthy');
    expect(m.actor.getSnapshot().context.lastLatencyMs).toBeGreaterThanOrEqual(20);
    expect(m.actor.getSnapshot().context.lastLatencyMs).toBeLessThan(50);
  });

  it('"hang": probes time out, goes degraded -> failed -> recovering, and back to healthy after "heal"', async () => {
    const m = master();
    await m.advance(100);
    m.fault('hang');
    await m.advance(7_200); // first probe at 5 s times out at 7 s
    expect(m.state()).toBe('degraded');
    expect(m.actor.getSnapshot().context.lastError).toMatch(/probe timed out after 2000 ms/);
    // entering "degraded" restarts the probe loop: probes at 12 s and 19 s time out, the third failure at 21 s
    await m.advance(7_000);
    expect(m.state()).toBe('degraded');
    await m.advance(7_000);
    expect(m.states).toContain('failed.backoff');
    expect(m.facts.some((f) => f.type === 'master.failed')).toBe(true);
    m.fault('heal');
    await m.advance(90_000);
    expect(m.state()).toBe('healthy');
    expect(m.states.slice(0, 6)).toEqual([
      'recovering.connecting',
      'healthy',
      'degraded',
      'failed.backoff',
      'recovering.connecting',
      // a connect that started while the account hung never answers: the attempt times out
      m.states[5],
    ]);
    expect(m.states).toContain('recovering.probation');
    expect(m.facts.at(-1)?.type).toBe('master.healthy');
    expect(m.facts.some((f) => f.type === 'master.recovered')).toBe(true);
  });

  it('"disconnect": recovers at once; a reconnect that fails puts it in "failed.backoff"; "heal" brings it back', async () => {
    const m = master();
    await m.advance(100);
    m.fault('disconnect');
    await m.advance(10);
    expect(m.state()).toBe('recovering.connecting');
    await m.advance(100);
    expect(m.state()).toBe('failed.backoff');
    expect(m.actor.getSnapshot().context.lastError).toBe(
      'reconnect attempt 1 failed: connection refused (simulated outage)',
    );
    m.fault('heal');
    await m.advance(30_000);
    expect(m.state()).toBe('healthy');
    expect(m.states).toContain('recovering.probation');
  });

  it('a short blip that reconnects on its first attempt never fails the master', async () => {
    const m = master();
    await m.advance(100);
    m.fault('disconnect');
    m.fault('heal');
    await m.advance(20_000);
    expect(m.state()).toBe('healthy');
    expect(m.states).not.toContain('failed.backoff');
    expect(m.facts.some((f) => f.type === 'master.failed')).toBe(false);
  });

  it('"disconnect" without heal uses every recovery attempt, then waits in "failed.exhausted" for a reset', async () => {
    const m = master();
    await m.advance(100);
    m.fault('disconnect');
    await m.advance(120_000);
    expect(m.state()).toBe('failed.exhausted');
    expect(m.actor.getSnapshot().context.recoveryAttempts).toBe(5);
    expect(m.facts.filter((f) => f.type === 'master.recovering')).toHaveLength(6); // first connect + 5
    expect(m.facts.some((f) => f.type === 'master.exhausted')).toBe(true);
    m.fault('heal');
    await m.advance(60_000);
    expect(m.state()).toBe('failed.exhausted');
    m.actor.send({ type: 'master.reset' });
    await m.advance(20_000);
    expect(m.state()).toBe('healthy');
  });

  it('"slow": probes over degradedLatencyMs make it "degraded"; "heal" makes it "healthy" again', async () => {
    const m = master();
    await m.advance(100);
    m.fault('slow', { latencyMs: 1_800 });
    await m.advance(8_000);
    expect(m.state()).toBe('degraded');
    expect(m.actor.getSnapshot().hasTag('routable')).toBe(true);
    await m.advance(20_000);
    expect(m.state()).toBe('degraded');
    m.fault('heal');
    await m.advance(15_000);
    expect(m.state()).toBe('healthy');
  });

  it('"slow" beyond the probe timeout fails the master like a hang', async () => {
    const m = master();
    await m.advance(100);
    m.fault('slow', { latencyMs: 5_000 });
    await m.advance(22_000);
    expect(m.states).toContain('failed.backoff');
  });

  it('"flaky" with errorRate 1 fails every probe: degraded, then failed', async () => {
    const m = master();
    await m.advance(100);
    m.fault('flaky', { errorRate: 1 });
    await m.advance(5_100);
    expect(m.state()).toBe('degraded');
    await m.advance(10_000);
    expect(m.states).toContain('failed.backoff');
  });

  it('"flaky" with errorRate 0.5 makes it degraded at times but rarely failed', async () => {
    const m = master();
    await m.advance(100);
    m.fault('flaky', { errorRate: 0.5 });
    await m.advance(120_000);
    expect(m.states).toContain('degraded');
  });

  it('"logout": goes to "failed.needsRepair" and never reconnects by itself, even after "heal"', async () => {
    const m = master();
    await m.advance(100);
    m.fault('logout');
    await m.advance(10);
    expect(m.state()).toBe('failed.needsRepair');
    const failed = m.facts.find((f) => f.type === 'master.failed');
    expect(failed).toMatchObject({ permanent: true, reason: expect.stringMatching(/401.*logged out/) });
    m.fault('heal');
    await m.advance(300_000);
    expect(m.state()).toBe('failed.needsRepair');
    expect(m.facts.filter((f) => f.type === 'master.recovering')).toHaveLength(1);
    m.actor.send({ type: 'master.reset' });
    await m.advance(15_000);
    expect(m.state()).toBe('healthy');
  });

  it('a reset while still logged out goes back to "failed.needsRepair"', async () => {
    const m = master();
    await m.advance(100);
    m.fault('logout');
    await m.advance(10);
    m.actor.send({ type: 'master.reset' });
    await m.advance(1_000);
    expect(m.state()).toBe('failed.needsRepair');
  });

  it('settings change the timings: probe every 100 ms, 2 failures', async () => {
    const m = master('+15550000002', { probeIntervalMs: 100, probeTimeoutMs: 50, failureThreshold: 2 });
    await m.advance(100);
    m.fault('hang');
    await m.advance(350);
    expect(m.states).toContain('failed.backoff');
  });

  it('stopping the actor stops its timers: no probe runs after stop', async () => {
    const m = master();
    await m.advance(100);
    m.actor.stop();
    m.fault('hang');
    const before = m.states.length;
    await m.advance(30_000);
    expect(m.states.length).toBe(before);
  });
});
