// Drives a SimulatedClock in tests: timers fire inside increment(), promise callbacks need the
// event loop, so time moves in small steps with the microtask queue drained between them.
import { SimulatedClock } from 'xstate';

export function simClock(): SimulatedClock {
  return new SimulatedClock();
}

export async function flush(): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
}

export async function advance(clock: SimulatedClock, ms: number, stepMs = 10): Promise<void> {
  await flush();
  for (let t = 0; t < ms; t += stepMs) {
    clock.increment(Math.min(stepMs, ms - t));
    await flush();
  }
}
