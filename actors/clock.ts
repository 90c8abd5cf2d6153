// The clock every timer in switchboard goes through: real time in the service, XState's
// SimulatedClock in tests (pass the same one to createActor so machine delays agree with IO timers).
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout),
};

/** Rejects with a TimeoutError after `ms` on `clock` unless `work` settles first; aborts `work` on timeout. */
export function withTimeout<T>(
  clock: Clock,
  ms: number,
  what: string,
  work: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', onOuterAbort, { once: true });
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      const err = new TimeoutError(`${what} timed out after ${ms} ms`);
      controller.abort(err);
      reject(err);
    }, ms);
    work(controller.signal).then(
      (value) => {
        clock.clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clock.clearTimeout(timer);
        reject(err);
      },
    );
  }).finally(() => outer?.removeEventListener('abort', onOuterAbort));
}

export class TimeoutError extends Error {
  override name = 'TimeoutError';
}
