// The root logger's redaction: tokens never reach a log line, at any level; recipients only at debug.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger.ts';

function capture(level: string) {
  const lines: string[] = [];
  const log = createLogger({ level, destination: { write: (line: string) => void lines.push(line) } });
  return { log, text: () => lines.join('') };
}

const SECRET = 'secret-token-value';
const READ_SECRET = 'secret-read-token-value';

describe('createLogger', () => {
  for (const level of ['trace', 'debug', 'info']) {
    it(`redacts tokens and Authorization headers wherever they sit, at level "${level}"`, () => {
      const { log, text } = capture(level);
      log.warn(
        {
          token: SECRET,
          readToken: READ_SECRET,
          authorization: `Bearer ${SECRET}`,
          headers: { authorization: `Bearer ${SECRET}` },
          req: { headers: { authorization: `Bearer ${READ_SECRET}` } },
          request: { headers: { authorization: `Bearer ${READ_SECRET}` } },
          options: { token: SECRET, readToken: READ_SECRET, authorization: `Bearer ${SECRET}` },
        },
        'starting',
      );
      expect(text()).toContain('[redacted]');
      expect(text()).not.toContain(SECRET);
      expect(text()).not.toContain(READ_SECRET);
    });
  }

  it('shows recipients at debug and redacts them above', () => {
    const debug = capture('debug');
    debug.log.debug({ to: '+971501112233' }, 'sending');
    expect(debug.text()).toContain('+971501112233');
    const info = capture('info');
    info.log.info({ to: '+971501112233' }, 'sending');
    expect(info.text()).not.toContain('+971501112233');
  });
});
