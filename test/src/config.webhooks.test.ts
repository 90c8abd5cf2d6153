// The webhook part of the config: defaults, and every bad value refused with its field named.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.ts';

const SECRET = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;

function problem(input: unknown): string {
  try {
    parseConfig(input);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the config was accepted');
}

describe('config "webhooks"', () => {
  it('defaults to no webhook, 10 attempts, 4 in flight per endpoint, texts left out', () => {
    const c = parseConfig({ webhooks: [{ url: 'https://crm.example/h', events: ['message.failed'] }] });
    expect(c.webhooks).toEqual([
      { url: 'https://crm.example/h', events: ['message.failed'], includeText: false },
    ]);
    expect(c.webhookDelivery).toEqual({
      timeoutMs: 10_000,
      maxAttempts: 10,
      backoffBaseMs: 1_000,
      backoffMaxMs: 300_000,
      concurrency: 4,
    });
    expect(parseConfig({}).webhooks).toEqual([]);
  });

  it('names the field of a bad URL, event type, secret or duplicate', () => {
    expect(problem({ webhooks: [{ url: 'not a url', events: ['*'] }] })).toMatch(
      /webhooks\[0\]\.url: expected an http/,
    );
    expect(problem({ webhooks: [{ url: 'https://u:p@h.example/', events: ['*'] }] })).toMatch(
      /webhooks\[0\]\.url: /,
    );
    expect(
      problem({ webhooks: [{ url: 'http://h.example/', events: ['message.sent', 'message.lost'] }] }),
    ).toMatch(/webhooks\[0\]\.events\[1\]: expected one of message\.sent/);
    expect(problem({ webhooks: [{ url: 'http://h.example/', events: [] }] })).toMatch(
      /webhooks\[0\]\.events: at least one/,
    );
    expect(
      problem({ webhooks: [{ url: 'http://h.example/', events: ['*'], secret: 'whsec_c2hvcnQ=' }] }),
    ).toMatch(/webhooks\[0\]\.secret: expected "whsec_"/);
    expect(problem({ webhooks: [{ url: 'http://h.example/', events: ['*'], sign: true }] })).toMatch(
      /webhooks\[0\]: /,
    );
    expect(
      problem({
        webhooks: [
          { url: 'http://h.example/', events: ['*'], secret: SECRET },
          { url: 'http://h.example/', events: ['alert.opened'] },
        ],
      }),
    ).toMatch(/webhooks\[1\]\.url: duplicate/);
    expect(problem({ webhookDelivery: { concurrency: 0 } })).toMatch(/webhookDelivery\.concurrency: /);
  });
});
