// One process owns a data dir. switchboard.lock names the owner ({pid, start, gen}); a second live
// process is refused, a lock whose owner is dead is taken over at once. Taking over is atomic
// because every owner first claims the next generation: it links a file holding its pid to
// switchboard.lock.<gen> (link fails when the name exists), so of two processes racing for a
// dead owner's lock exactly one gets the claim; only then does it rename its record over the lock.
// A process start time from /proc guards against a recycled pid. (proper-lockfile was considered:
// its staleness is an mtime timeout, so a dead owner's lock would wait seconds, not be taken at once.)
import { linkSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SwitchboardError } from '../errors.ts';

export interface DataDirLock {
  readonly file: string;
  readonly generation: number;
  release(): void;
}

interface Owner {
  pid: number;
  /** Process start time (clock ticks since boot, /proc/<pid>/stat field 22), 0 when unknown. */
  start: number;
  gen: number;
}

const LOCK = 'switchboard.lock';
/** Claims older than this many generations are deleted (a racer stalled that long is not credible). */
const KEEP_CLAIMS = 8;

export function lockDataDir(dataDir: string): DataDirLock {
  const file = join(dataDir, LOCK);
  const me: Omit<Owner, 'gen'> = { pid: process.pid, start: startTime(process.pid) };
  let floor = 0;
  for (let tries = 0; tries < 64; tries++) {
    const current = readOwner(file);
    if (current && current.pid !== 0 && isAlive(current)) throw inUse(dataDir, current.pid, file);
    const gen = Math.max(current?.gen ?? 0, floor) + 1;
    const claim = `${file}.${gen}`;
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ ...me, gen }));
    try {
      linkSync(tmp, claim);
    } catch (err) {
      rmSync(tmp, { force: true });
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const rival = readOwner(claim);
      if (rival && isAlive(rival)) throw inUse(dataDir, rival.pid, file);
      floor = gen; // its claimer died before finishing: claim the generation after it
      continue;
    }
    renameSync(tmp, file);
    removeOldClaims(dataDir, gen);
    return {
      file,
      generation: gen,
      release: () => {
        const owner = readOwner(file);
        if (owner?.pid !== me.pid || owner.gen !== gen) return;
        const free = `${file}.tmp-${process.pid}`;
        writeFileSync(free, JSON.stringify({ pid: 0, start: 0, gen }));
        renameSync(free, file);
      },
    };
  }
  throw new SwitchboardError('SB_ERR_STORE_LOCKED', `could not take ${file}: too many rival claims`, 500);
}

function inUse(dataDir: string, pid: number, file: string): SwitchboardError {
  return new SwitchboardError(
    'SB_ERR_STORE_LOCKED',
    `data dir ${dataDir} is in use by process ${pid}${pid === process.pid ? ' (this one)' : ''} (${file}); stop it first or use another --data-dir`,
    500,
  );
}

function readOwner(file: string): Owner | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
  // A lock written by an older switchboard holds just the pid.
  if (/^\d+$/.test(text)) return { pid: Number(text), start: 0, gen: 0 };
  try {
    const o = JSON.parse(text) as Partial<Owner>;
    if (typeof o.pid === 'number' && typeof o.gen === 'number')
      return { pid: o.pid, start: typeof o.start === 'number' ? o.start : 0, gen: o.gen };
  } catch {
    // unreadable: treat as a dead owner of generation 0
  }
  return { pid: 0, start: 0, gen: 0 };
}

function removeOldClaims(dataDir: string, gen: number): void {
  for (const name of readdirSync(dataDir)) {
    const m = /^switchboard\.lock\.(\d+)$/.exec(name);
    if (m && Number(m[1]) <= gen - KEEP_CLAIMS) rmSync(join(dataDir, name), { force: true });
  }
}

function startTime(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[19]) || 0;
  } catch {
    return 0;
  }
}

function isAlive(owner: Owner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return owner.start === 0 || startTime(owner.pid) === owner.start || startTime(owner.pid) === 0;
}
