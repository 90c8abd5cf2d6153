// Choosing the backup for a failed master: routable masters only, healthy ones before degraded
// ones, then by priority (lower first), then the failed master's region, then spare capacity
// (rate per minute minus what it already holds).
import { SwitchboardError } from './errors.ts';

export interface BackupCandidate {
  phone: string;
  routable: boolean;
  /** Routable and not degraded: a degraded master is a backup of last resort. */
  healthy: boolean;
  priority: number;
  region: string;
  ratePerMinute: number;
  /** Messages it already holds that are not sent yet. */
  pending: number;
}

export function chooseBackup(
  from: { phone: string; region: string },
  candidates: readonly BackupCandidate[],
  preferred?: string,
): string | null {
  if (preferred !== undefined) {
    if (preferred === from.phone) {
      throw new SwitchboardError('SB_ERR_NO_BACKUP', `cannot fail ${from.phone} over to itself`, 409);
    }
    const wanted = candidates.find((c) => c.phone === preferred);
    if (!wanted) throw new SwitchboardError('SB_ERR_UNKNOWN_MASTER', `no master ${preferred}`, 404);
    if (!wanted.routable) {
      throw new SwitchboardError(
        'SB_ERR_NO_BACKUP',
        `requested backup ${preferred} is not routable now`,
        409,
      );
    }
    return preferred;
  }
  let best: BackupCandidate | null = null;
  for (const c of candidates) {
    if (c.phone === from.phone || !c.routable) continue;
    if (!best || better(c, best, from.region)) best = c;
  }
  return best?.phone ?? null;
}

function better(a: BackupCandidate, b: BackupCandidate, region: string): boolean {
  if (a.healthy !== b.healthy) return a.healthy;
  if (a.priority !== b.priority) return a.priority < b.priority;
  const aLocal = a.region === region;
  if (aLocal !== (b.region === region)) return aLocal;
  const spareA = a.ratePerMinute - a.pending;
  const spareB = b.ratePerMinute - b.pending;
  if (spareA !== spareB) return spareA > spareB;
  return a.phone < b.phone;
}
