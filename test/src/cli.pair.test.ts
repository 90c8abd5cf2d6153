// `switchboard pair` and `switchboard status` as an operator meets them: help, refusals that say
// why, and a running service that shows which numbers are paired and how to pair the others.
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli, startService, writeConfig } from '../support/service.ts';
import { PHONES, tempDir } from '../support/system.ts';

describe('switchboard pair / status', () => {
  it('pair --help explains QR and --code; a bad number or a missing one exits 2 naming the problem', async () => {
    const help = await runCli(['pair', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: switchboard pair PHONE');
    expect(help.stdout).toContain('--code');
    const bad = await runCli(['pair', '12345']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not in international format/);
    const none = await runCli(['pair']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/one PHONE is needed/);
  });

  it('status shows a baileys master as not paired with the pair command as its reason, while the sim master serves', async () => {
    const dir = tempDir();
    const [A, B] = PHONES as [string, string];
    const file = writeConfig(dir, {
      masters: [
        { phone: A, transport: 'baileys' },
        { phone: B, transport: 'sim' },
      ],
      dataDir: dir,
    });
    const service = await startService(['--config', file, '--port', '0']);
    try {
      let out = '';
      for (let i = 0; i < 50 && !/needsRepair/.test(out); i++) {
        out = (await runCli(['status', '--url', service.url])).stdout;
        if (!/needsRepair/.test(out)) await new Promise((r) => setTimeout(r, 100));
      }
      const rowA = out.split('\n').find((l) => l.includes(A)) ?? '';
      const rowB = out.split('\n').find((l) => l.includes(B)) ?? '';
      expect(rowA).toMatch(/failed \(needsRepair\)/);
      expect(rowA).toMatch(/│ 'no'/);
      expect(rowA).toContain(`switchboard pair ${A}`);
      expect(rowB).toMatch(/│ '-'/);
      const sent = await runCli(['send', '--url', service.url, '--to', '+971501112233', '--text', 'hi']);
      expect(sent.code).toBe(0);
    } finally {
      expect(await service.stop('SIGTERM')).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
