// The command line as a user meets it: refusals that name what is wrong, a clean shutdown.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startService, writeConfig } from '../support/service.ts';
import { tempDir } from '../support/system.ts';

function readHistory(dir: string): string {
  return readdirSync(dir)
    .filter((f) => f.startsWith('history-'))
    .map((f) => readFileSync(join(dir, f), 'utf8'))
    .join('');
}

describe('switchboard CLI', () => {
  it('refuses a config file with a bad field, naming the file and the field, exit code 2', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, {
      masters: [{ phone: '+971501234567', weight: -2 }],
      health: { intervalMs: 'fast' },
    });
    const r = await runCli(['serve', '--config', file, '--data-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/masters\[0\]\.weight/);
    expect(r.stderr).toMatch(/health\.intervalMs/);
  });

  it('refuses a config file that is not JSON', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.json');
    writeFileSync(file, '{ masters: [');
    const r = await runCli(['serve', '--config', file, '--data-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is not valid JSON/);
  });

  it('refuses an unknown strategy and lists the valid ones', async () => {
    const dir = tempDir();
    const file = writeConfig(dir, { balancer: { strategy: 'fastest' } });
    const r = await runCli(['serve', '--config', file, '--data-dir', dir]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /balancer\.strategy: unknown strategy "fastest"; valid: round-robin, priority, least-loaded, geolocation/,
    );
  });

  it('refuses a corrupt store file, names it, exits non-zero and leaves it unchanged', async () => {
    const dir = tempDir();
    const store = join(dir, 'switchboard.json');
    writeFileSync(store, '{"version":1,"messages":{"a"');
    const r = await runCli(['serve', '--data-dir', dir, '--port', '0']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`store file ${store} is corrupt`);
    expect(readFileSync(store, 'utf8')).toBe('{"version":1,"messages":{"a"');
  });

  it('refuses to listen on a non-loopback host without a token', async () => {
    const dir = tempDir();
    const r = await runCli(['serve', '--data-dir', dir, '--host', '0.0.0.0', '--port', '0'], {
      SWITCHBOARD_TOKEN: '',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to listen on 0\.0\.0\.0 without a token/);
  });

  it('refuses a second service on the same data dir while the first runs', async () => {
    const dir = tempDir();
    const first = await startService(['--data-dir', dir, '--port', '0']);
    try {
      const r = await runCli(['serve', '--data-dir', dir, '--port', '0']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is in use by process \d+/);
    } finally {
      expect(await first.stop('SIGTERM')).toBe(0);
    }
  });

  it('refuses a read token without a write token, exit code 2', async () => {
    const dir = tempDir();
    const r = await runCli(['serve', '--data-dir', dir, '--port', '0'], {
      SWITCHBOARD_TOKEN: '',
      SWITCHBOARD_READ_TOKEN: 'r3ad-only-token',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/SWITCHBOARD_READ_TOKEN is set without SWITCHBOARD_TOKEN/);
    expect(r.stderr).not.toContain('r3ad-only-token');
  });

  it('status and send talk to a service with tokens set; SIGTERM stops it cleanly with exit code 0', async () => {
    const dir = tempDir();
    const tokens = { SWITCHBOARD_TOKEN: 's3cret-token', SWITCHBOARD_READ_TOKEN: 'r3ad-only-token' };
    // debug: the level that logs most, and still no token may show
    const service = await startService(['--data-dir', dir, '--port', '0'], { ...tokens, LOG_LEVEL: 'debug' });
    let id = '';
    try {
      const anonymous = { SWITCHBOARD_TOKEN: '', SWITCHBOARD_READ_TOKEN: '' };
      const refused = await runCli(['status', '--url', service.url], anonymous);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/401/);
      for (const env of [
        { SWITCHBOARD_TOKEN: 's3cret-token', SWITCHBOARD_READ_TOKEN: '' },
        { SWITCHBOARD_TOKEN: '', SWITCHBOARD_READ_TOKEN: 'r3ad-only-token' },
      ]) {
        const status = await runCli(['status', '--url', service.url], env);
        expect(status.code, JSON.stringify(env)).toBe(0);
        expect(status.stdout).toMatch(/\+971501234567/);
      }
      const denied = await runCli(
        ['send', '--url', service.url, '--to', '+971501112233', '--text', 'hi'],
        anonymous,
      );
      expect(denied.code).toBe(2);
      expect(denied.stderr).toMatch(/401/);
      const sent = await runCli(['send', '--url', service.url, '--to', '+971501112233', '--text', 'hi'], {
        ...anonymous,
        SWITCHBOARD_TOKEN: 's3cret-token',
      });
      expect(sent.code).toBe(0);
      expect(sent.stdout).toMatch(/^accepted: [0-9a-f-]{36}/);
      id = sent.stdout.slice('accepted: '.length, 'accepted: '.length + 36);
    } finally {
      expect(await service.stop('SIGTERM')).toBe(0);
    }
    expect(service.output()).toMatch(/switchboard stopped/);
    expect(service.output()).toMatch(/"level":20/);
    expect(service.output()).not.toContain('s3cret-token');
    expect(service.output()).not.toContain('r3ad-only-token');
    // the accepted message is on disk: in the store, or in the history once delivered
    const onDisk = readFileSync(join(dir, 'switchboard.json'), 'utf8') + readHistory(dir);
    expect(onDisk).toContain(id);
  });

  it('prints help for each command', async () => {
    for (const cmd of ['serve', 'status', 'send']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`usage: switchboard ${cmd}`);
    }
  });
});
