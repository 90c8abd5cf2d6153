// One racer for the lock test: waits for a shared start time (busy-waiting, so racers collide),
// tries to take the data dir's lock, prints "won" or "lost: <why>", and stays alive until killed.
import { lockDataDir } from '../../../src/store/lock.ts';

const [dir = '', startAt = '0'] = process.argv.slice(2);
while (Date.now() < Number(startAt)) {
  // spin: a timer would spread the racers out by milliseconds
}
try {
  lockDataDir(dir);
  process.stdout.write('won\n');
} catch (err) {
  process.stdout.write(`lost: ${(err as Error).message}\n`);
}
setInterval(() => undefined, 1_000);
