// One process owns a data dir: switchboard.lock holds the owner's pid. A second live process is
// refused; a lock left by a dead process (crash, SIGKILL) is taken over at once.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SwitchboardError } from '../errors.ts';

export interface DataDirLock {
  readonly file: string;
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  const file = join(dataDir, 'switchboard.lock');
  for (let tries = 0; tries < 2; tries++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return {
        file,
        release: () => {
          if (readPid(file) === process.pid) rmSync(file, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = readPid(file);
    if (pid !== null && pid !== process.pid && isAlive(pid)) {
      throw new SwitchboardError(
        'SB_ERR_STORE_LOCKED',
        `data dir ${dataDir} is in use by process ${pid} (${file}); stop it first or use another --data-dir`,
        500,
      );
    }
    rmSync(file, { force: true }); // stale: its owner is gone
  }
  throw new SwitchboardError('SB_ERR_STORE_LOCKED', `could not take ${file}`, 500);
}

function readPid(file: string): number | null {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
