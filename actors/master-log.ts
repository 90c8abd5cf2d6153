// Logs a master's state changes and emitted facts, one child logger per master.
import type { ActorRefFrom } from 'xstate';
import type { MasterMachine } from '../machines/master.machine.ts';
import type { Logger } from '../src/logger.ts';

export function stateLabel(value: unknown): string {
  if (typeof value === 'string') return value;
  const [[key, inner] = ['?', undefined]] = Object.entries(value as Record<string, unknown>);
  return `${key}.${stateLabel(inner)}`;
}

export function logMaster(actor: ActorRefFrom<MasterMachine>, log: Logger): () => void {
  const child = log.child({ master: actor.getSnapshot().context.phone });
  let last = '';
  const sub = actor.subscribe((snapshot) => {
    const label = stateLabel(snapshot.value);
    if (label === last) return;
    const from = last;
    last = label;
    const { lastError, recoveryAttempts } = snapshot.context;
    const fields = { state: label, ...(from ? { from } : {}), ...(lastError ? { reason: lastError } : {}) };
    if (snapshot.matches('failed')) child.warn({ ...fields, recoveryAttempts }, `master ${label}`);
    else child.info(fields, `master ${label}`);
  });
  return () => sub.unsubscribe();
}
