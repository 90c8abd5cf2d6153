// A switchboard process for the crash test. `load`: accepts messages as fast as it can and appends
// the id of each acknowledged one (after its commit) to acked.jsonl, with random sim faults, until
// killed. `drain`: accepts nothing and exits once every message in the store has been sent.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { realClock } from '../../actors/clock.ts';
import { SimNetwork } from '../../actors/sim.transport.ts';
import { SwitchboardSystem } from '../../actors/system.ts';
import { parseConfig } from '../../src/config.ts';
import { Store } from '../../src/store/store.ts';

const [dir = '', mode = 'load', seedArg = '1'] = process.argv.slice(2);
const seed = Number(seedArg);
const PHONES = ['+971501234567', '+971501234568', '+14155552671'];

const config = parseConfig({
  masters: PHONES.map((phone, i) => ({ phone, priority: i + 1, ratePerMinute: 1_000_000 })),
  health: { intervalMs: 100, timeoutMs: 60, failureThreshold: 2, recoveryThreshold: 1 },
  recovery: { timeoutMs: 300, maxAttempts: 1000, backoffBaseMs: 50, backoffMaxMs: 200 },
  dispatch: { sendTimeoutMs: 200, maxInFlight: 8 },
  dataDir: dir,
});
// A checkpoint worker may be cut by the kill too: that is part of what this test covers.
const store = await Store.open(dir, { fsync: true, segmentBytes: 256 * 1024, checkpointBytes: 512 * 1024 });
const network = new SimNetwork({
  clock: realClock,
  latencyMs: 3,
  seed,
  sendLog: join(dir, 'sim-sends.jsonl'),
});
const system = await new SwitchboardSystem({
  config,
  store,
  log: pino({ level: 'silent' }),
  network,
}).start();

const pending = () =>
  [...store.map('messages').values()].filter((m) =>
    ['queued', 'assigned', 'sending', 'unknown'].includes(m.status),
  ).length;

if (mode === 'drain') {
  const timer = setInterval(async () => {
    if (pending() === 0) {
      clearInterval(timer);
      await system.stop();
      await store.close();
      process.stdout.write('drained\n');
      process.exit(0);
    }
  }, 50);
} else {
  // Random faults so kills also land mid-failover.
  let rng = seed;
  const next = () => {
    rng = (rng * 1103515245 + 12345) % 2147483648;
    return rng / 2147483648;
  };
  setInterval(() => {
    const phone = PHONES[Math.floor(next() * PHONES.length)]!;
    const kind = (['hang', 'disconnect', 'heal', 'heal'] as const)[Math.floor(next() * 4)]!;
    network.inject(phone, { kind });
  }, 150);
  let n = 0;
  const pump = async () => {
    for (;;) {
      const batch = Array.from({ length: 20 }, () => {
        n++;
        return system.send({
          to: `+97150110${String(10000 + (n % 500)).slice(1)}`,
          text: `seed ${seed} #${n}`,
        });
      });
      const accepted = await Promise.all(batch);
      appendFileSync(join(dir, 'acked.jsonl'), `${accepted.map((a) => JSON.stringify(a.id)).join('\n')}\n`);
    }
  };
  process.stdout.write('ready\n');
  void pump();
}
