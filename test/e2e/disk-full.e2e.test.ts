// The real service over HTTP with its data dir on a small tmpfs that fills up: 503s while the disk
// is full, no 202 for anything not on disk, and every acknowledged message sent once there is room
// again, without a restart. Needs root to mount a tmpfs; reported as skipped with the reason otherwise.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../actors/clock.ts';
import { Outbox } from '../../src/outbox.ts';
import { Store } from '../../src/store/store.ts';
import { type ServiceProcess, startService, writeConfig } from '../support/service.ts';

function mountTmpfs(): { dir: string } | { reason: string } {
  if (process.platform !== 'linux') return { reason: 'tmpfs mounts need Linux' };
  if (process.getuid?.() !== 0) return { reason: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return { reason: `mount -t tmpfs failed: ${(err as Error).message.split('\n')[0]}` };
  }
}

const mounted = mountTmpfs();
const skip = 'reason' in mounted ? mounted.reason : false;
if (skip) console.log(`disk-full e2e skipped: ${skip}`);

/** Fills the file system with one file until ENOSPC; returns its path. */
function fill(dir: string): string {
  const file = join(dir, 'filler.bin');
  const chunk = Buffer.alloc(64 * 1024, 1);
  const fd = openSync(file, 'w');
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  // small writes still fit in a partly used block: fill those too
  const fd2 = openSync(join(dir, 'filler-small.bin'), 'w');
  try {
    for (;;) writeSync(fd2, Buffer.alloc(256, 1));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd2);
  }
  return file;
}

describe.skipIf(Boolean(skip))('a full disk under HTTP traffic (real tmpfs)', () => {
  const root = 'dir' in mounted ? mounted.dir : '';
  const data = join(root, 'data');
  let service: ServiceProcess | undefined;

  beforeAll(async () => {
    mkdirSync(data, { recursive: true });
    const config = writeConfig(mkdtempSync(join(tmpdir(), 'switchboard-cfg-')), {
      masters: ['+971501234567', '+971501234568', '+14155552671'].map((phone, i) => ({
        phone,
        priority: i + 1,
        ratePerMinute: 100_000,
      })),
      health: { intervalMs: 500, timeoutMs: 300 },
      sim: { latencyMs: 5 },
      dataDir: data,
    });
    service = await startService(['--config', config, '--port', '0']);
  });

  afterAll(async () => {
    await service?.stop('SIGKILL');
    if (root) {
      execFileSync('umount', ['-l', root]);
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('answers 503 while full, 202 only for what is on disk, and sends everything acknowledged once there is room', async () => {
    const url = service!.url;
    const post = async (i: number) => {
      const res = await fetch(`${url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          to: `+97150110${String(10000 + (i % 300)).slice(1)}`,
          text: `disk test ${i}`,
        }),
      });
      return { status: res.status, body: (await res.json()) as { id?: string; code?: string } };
    };
    const acked: string[] = [];
    const answers: number[] = [];
    const record = (r: { status: number; body: { id?: string; code?: string } }) => {
      answers.push(r.status);
      if (r.status === 202) acked.push(r.body.id!);
      else expect(r.body.code).toBe('SB_ERR_STORE_UNAVAILABLE');
    };
    for (let i = 0; i < 50; i++) record(await post(i));
    const filler = fill(root);
    let refused = 0;
    for (let i = 50; i < 250; i++) {
      const r = await post(i);
      record(r);
      if (r.status === 503) refused++;
    }
    expect(refused).toBeGreaterThan(100);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { code: string; message: string }).message).toMatch(/ENOSPC/);

    rmSync(filler);
    rmSync(join(root, 'filler-small.bin'));
    const deadline = Date.now() + 15_000;
    while ((await fetch(`${url}/readyz`)).status !== 200) {
      if (Date.now() > deadline) throw new Error('the service did not come back after space returned');
      await new Promise((r) => setTimeout(r, 100));
    }
    for (let i = 250; i < 300; i++) record(await post(i));
    expect(answers.filter((s) => s === 202).length).toBe(acked.length);

    // every acknowledged message is sent, without a restart
    const pending = new Set(acked);
    const until = Date.now() + 30_000;
    while (pending.size > 0) {
      for (const id of [...pending]) {
        const m = (await (await fetch(`${url}/api/messages/${id}`)).json()) as { status: string };
        if (['sent', 'delivered', 'read'].includes(m.status)) pending.delete(id);
      }
      if (pending.size === 0) break;
      if (Date.now() > until) throw new Error(`${pending.size} acknowledged messages not sent`);
      await new Promise((r) => setTimeout(r, 200));
    }

    // and every 202 was on disk: kill the service and read the data dir
    await service!.stop('SIGKILL');
    service = undefined;
    const store = await Store.open(data, { fsync: false, checkpointer: 'off' });
    const outbox = new Outbox(store, realClock);
    for (const id of acked)
      expect(await outbox.find(id), `202 for ${id}, but it is not on disk`).toBeDefined();
    store.halt();
    writeFileSync(join(root, 'done'), `${acked.length} acknowledged, ${refused} refused\n`);
    console.log(
      `disk-full e2e: ${acked.length} acknowledged and sent, ${refused} refused with 503 while full`,
    );
  }, 120_000);
});
