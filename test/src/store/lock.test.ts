// One process owns a data dir: a live owner refuses others, a dead owner's lock is taken at once,
// and when several processes race for a dead owner's lock exactly one wins.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockDataDir } from '../../../src/store/lock.ts';
import { tempDir } from '../../support/system.ts';

const racer = join(import.meta.dirname, 'lock-racer.ts');
const ROUNDS = Number(process.env.LOCK_ROUNDS ?? 12);
const RACERS = 4;

/** A pid that was alive a moment ago and is not any more. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

function race(dir: string, startAt: number): { child: ChildProcess; result: Promise<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', racer, dir, String(startAt)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const result = new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('\n')) resolve(out.trim());
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d;
    });
    child.on('exit', (code) => reject(new Error(`racer exited ${code}: ${out}${err}`)));
  });
  return { child, result };
}

describe('data dir lock', () => {
  it('refuses a second owner while the first lives, naming its pid', () => {
    const dir = tempDir();
    const lock = lockDataDir(dir);
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 10000)']);
    try {
      const dir2 = tempDir();
      writeFileSync(join(dir2, 'switchboard.lock'), JSON.stringify({ pid: child.pid, start: 0, gen: 3 }));
      expect(() => lockDataDir(dir2)).toThrow(new RegExp(`in use by process ${child.pid}`));
    } finally {
      child.kill('SIGKILL');
      lock.release();
    }
  });

  it('takes over at once a lock left by a dead process, also one written by an older version (a bare pid)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'switchboard.lock'), `${await deadPid()}\n`);
    const lock = lockDataDir(dir);
    expect(JSON.parse(readFileSync(join(dir, 'switchboard.lock'), 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(JSON.parse(readFileSync(join(dir, 'switchboard.lock'), 'utf8')).pid).toBe(0);
    lockDataDir(dir).release(); // a released lock is free
  });

  it(`when ${RACERS} processes race for a dead owner's lock, exactly one wins, ${ROUNDS} rounds in a row`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = tempDir();
      writeFileSync(
        join(dir, 'switchboard.lock'),
        JSON.stringify({ pid: await deadPid(), start: 0, gen: 5 }),
      );
      const startAt = Date.now() + 1_500;
      const racers = Array.from({ length: RACERS }, () => race(dir, startAt));
      try {
        const results = await Promise.all(racers.map((r) => r.result));
        const winners = results.filter((r) => r === 'won');
        expect(winners, `round ${round}: ${results.join(' | ')}`).toHaveLength(1);
        for (const r of results.filter((x) => x !== 'won')) expect(r).toMatch(/in use by process \d+/);
      } finally {
        for (const r of racers) r.child.kill('SIGKILL');
      }
    }
  }, 120_000);
});
