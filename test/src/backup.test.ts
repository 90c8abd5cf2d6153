import { describe, expect, it } from 'vitest';
import { type BackupCandidate, chooseBackup } from '../../src/backup.ts';

const from = { phone: '+971501234567', region: 'AE' };
const c = (phone: string, over: Partial<BackupCandidate> = {}): BackupCandidate => ({
  phone,
  routable: true,
  healthy: true,
  priority: 1,
  region: 'AE',
  ratePerMinute: 60,
  pending: 0,
  ...over,
});

describe('backup choice', () => {
  it('never picks the failed master itself or an unroutable one', () => {
    expect(chooseBackup(from, [c(from.phone), c('+2', { routable: false, healthy: false })])).toBeNull();
  });

  it('prefers healthy over degraded, then lower priority, then the same region, then spare capacity', () => {
    expect(chooseBackup(from, [c('+2', { healthy: false, priority: 1 }), c('+3', { priority: 5 })])).toBe(
      '+3',
    );
    expect(chooseBackup(from, [c('+2', { priority: 3 }), c('+3', { priority: 2 })])).toBe('+3');
    expect(chooseBackup(from, [c('+2', { region: 'US' }), c('+3', { region: 'AE' })])).toBe('+3');
    expect(chooseBackup(from, [c('+2', { pending: 50 }), c('+3', { pending: 10 })])).toBe('+3');
  });

  it('takes the requested backup when it is routable, and says why not otherwise', () => {
    expect(chooseBackup(from, [c('+2'), c('+3')], '+3')).toBe('+3');
    expect(() => chooseBackup(from, [c('+2', { routable: false })], '+2')).toThrow(/not routable/);
    expect(() => chooseBackup(from, [c('+2')], '+9')).toThrow(/no master \+9/);
    expect(() => chooseBackup(from, [c('+2')], from.phone)).toThrow(/to itself/);
  });
});
