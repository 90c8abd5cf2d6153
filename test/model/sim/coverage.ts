// What the simulation reached, counted across runs: every master state and sub-state, incident
// outcome, fault kind, disk fault, crash point and race. A name never reached means the runs do not
// test what they claim; the CI test fails on it.
export const EXPECTED = [
  'master state: healthy',
  'master state: degraded',
  'master state: failed.backoff',
  'master state: failed.exhausted',
  'master state: failed.needsRepair',
  'master state: failed.drained',
  'master state: recovering.connecting',
  'master state: recovering.probation',
  'incident: completed',
  'incident: rolledBack',
  'incident: no routable backup',
  'fault: disconnect',
  'fault: hang',
  'fault: slow',
  'fault: flaky',
  'fault: logout',
  'fault: no-ack',
  'fault: heal',
  'disk: EIO on write',
  'disk: ENOSPC on write',
  'disk: EIO on sync',
  'disk: ENOSPC on sync',
  'disk: EIO on write after a short write',
  'disk: slow',
  'disk: full',
  'store: went unavailable',
  'store: recovered without a restart',
  'store: checkpoint written',
  'crash: none',
  'crash: some',
  'crash: all',
  'crash: while a commit was on its way to disk',
  'crash: unsynced bytes reached the disk (torn tail)',
  'restart: same masters',
  'restart: masters changed',
  'client: refused with 503 while the store could not write',
  'client: a repeated idempotency key answered with the first id',
  'client: idempotency key reused with another body (422)',
  'duplicate: a resend flagged "unknown"',
  'detection: a silent hang caught by the probes',
  'race: a reconnect finished while its failover was running',
  'race: a backup failed mid-incident',
  'race: a late send result after its master was failed over',
  'race: a commit failed between "sending" and the wire',
] as const;

export class Coverage {
  readonly counts = new Map<string, number>();
  /** Messages marked "sending" since the last durable commit (to spot a commit failing under them). */
  readonly pendingSending = new Set<string>();

  hit(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }

  missing(): string[] {
    return EXPECTED.filter((name) => !this.counts.has(name));
  }

  table(): string {
    const names = [...new Set([...EXPECTED, ...this.counts.keys()])];
    const width = Math.max(...names.map((n) => n.length));
    return names.map((n) => `${n.padEnd(width)}  ${String(this.counts.get(n) ?? 0).padStart(7)}`).join('\n');
  }
}
