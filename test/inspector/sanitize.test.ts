// The sanitiser: what reaches an inspector page has no token, no message text and no recipient's
// number in full, whatever shape the actor's data has, and is bounded in size.
import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { maskPhone, REDACTED, Sanitizer, TEXT_REMOVED } from '../../inspector/sanitize.ts';

const MASTER = '+971501234567';
const RECIPIENT = '+971501112233';
const fleet = new Sanitizer({ isFleetNumber: (p) => p === MASTER });

describe('maskPhone', () => {
  it('keeps the country and operator prefix and the last two digits: "+971501234567" -> "+9715012•••67"', () => {
    expect(maskPhone('+971501234567')).toBe('+9715012•••67');
    expect(maskPhone('+14155552671')).toBe('+141555•••71');
  });

  it('hides at least three digits of a short number', () => {
    expect(maskPhone('+4930123')).toBe('+49•••23');
    expect(maskPhone('+49301234')).toBe('+493•••34');
  });
});

describe('Sanitizer', () => {
  it('masks a recipient anywhere in a string, in E.164 and as a WhatsApp JID, and leaves the fleet numbers', () => {
    expect(fleet.text(`send to ${RECIPIENT} refused by ${MASTER}`)).toBe(
      `send to +9715011•••33 refused by ${MASTER}`,
    );
    expect(fleet.text('971501112233@s.whatsapp.net')).toBe('9715011•••33@s.whatsapp.net');
  });

  it('masks numbers used as keys (an affinity map keyed by recipient)', () => {
    expect(fleet.value({ affinity: { [RECIPIENT]: MASTER } })).toEqual({
      affinity: { '+9715011•••33': MASTER },
    });
  });

  it('removes message texts and keeps the rest of the message', () => {
    expect(fleet.value({ id: 'm1', to: RECIPIENT, text: 'your code is 4711', status: 'queued' })).toEqual({
      id: 'm1',
      to: '+9715011•••33',
      text: TEXT_REMOVED,
      status: 'queued',
    });
    // A Baileys message: the text sits under conversation / extendedTextMessage.text / caption.
    const baileys = {
      key: { remoteJid: '971501112233@s.whatsapp.net', id: 'ABC' },
      message: {
        conversation: 'hello',
        extendedTextMessage: { text: 'hi' },
        imageMessage: { caption: 'look' },
      },
    };
    const clean = JSON.stringify(fleet.value(baileys));
    expect(clean).not.toMatch(/hello|"hi"|look|971501112233/);
  });

  it('redacts credentials by key (token, authorization, auth state) and bearer tokens inside strings', () => {
    const clean = fleet.value({
      token: 'sekrit-1',
      apiKey: 'sekrit-2',
      headers: { Authorization: 'Bearer sekrit-3' },
      creds: { noiseKey: { private: 'sekrit-4' } },
      note: 'retried with Bearer sekrit-5 after a 401',
    });
    expect(clean).toEqual({
      token: REDACTED,
      apiKey: REDACTED,
      headers: { Authorization: REDACTED },
      creds: REDACTED,
      note: `retried with Bearer ${REDACTED} after a 401`,
    });
    expect(JSON.stringify(clean)).not.toContain('sekrit');
  });

  it('keeps a number under a credential-like key: a rate limit\'s "tokens" is not a secret', () => {
    expect(fleet.value({ tokens: 12 })).toEqual({ tokens: 12 });
  });

  it('names actor references instead of serialising them, drops functions, and spells errors out', () => {
    const ref = { sessionId: 'x:3', id: MASTER, send: () => undefined, internals: { huge: true } };
    const clean = new Sanitizer({ actorLabel: (r) => `master:${r.id}` }).value({
      master: ref,
      callback: () => 1,
      error: new Error(`no answer from ${RECIPIENT}`),
    });
    expect(clean).toEqual({
      master: { actor: `master:+9715012•••67` },
      error: { error: 'Error', message: 'no answer from +9715011•••33' },
    });
  });

  it('bounds depth, list length, key count and string length, and survives a cycle', () => {
    const small = new Sanitizer({ maxDepth: 3, maxItems: 3, maxString: 10 });
    const cyclic: Record<string, unknown> = { name: 'x' };
    cyclic.self = cyclic;
    expect(small.value(cyclic)).toEqual({ name: 'x', self: { name: 'x', self: { name: 'x', self: '[…]' } } });
    expect(small.value([1, 2, 3, 4, 5])).toEqual([1, 2, 3, '… 2 more']);
    expect(small.value({ a: 1, b: 2, c: 3, d: 4 })).toEqual({ a: 1, b: 2, c: 3, '…': '1 more' });
    expect(small.value('abcdefghijklmnop')).toBe('abcdefghij…');
  });

  it('turns Maps, Sets, Dates, bigints and non-finite numbers into JSON', () => {
    expect(
      fleet.value({
        m: new Map([['a', 1]]),
        s: new Set([1, 2]),
        d: new Date(0),
        b: 10n,
        n: Number.NaN,
        u: undefined,
      }),
    ).toEqual({ m: { a: 1 }, s: [1, 2], d: '1970-01-01T00:00:00.000Z', b: '10', n: 'NaN' });
  });

  it("keeps an event's type and sanitises its payload", () => {
    expect(fleet.event({ type: 'send.failed', reason: `${RECIPIENT} is not on WhatsApp` } as never)).toEqual({
      type: 'send.failed',
      reason: '+9715011•••33 is not on WhatsApp',
    });
  });
});

describe('Sanitizer properties', () => {
  const digits = fc.stringMatching(/^[1-9]\d{9,12}$/);
  const json = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      fc.string(),
      fc.integer(),
      fc.array(tie('node'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 8 }), tie('node'), { maxKeys: 4 }),
    ),
  })).node;
  /** Puts `leaf` somewhere inside `tree`, under `key`. */
  const embed = (tree: unknown, key: string, leaf: unknown, path: number): unknown => {
    if (Array.isArray(tree) && tree.length > 0) {
      const copy = [...tree];
      copy[path % copy.length] = embed(copy[path % copy.length], key, leaf, Math.floor(path / 2));
      return copy;
    }
    return { wrapper: tree, [key]: leaf };
  };

  fcTest.prop([json, digits, fc.nat(), fc.constantFrom('to', 'reason', 'recipient', 'note')])(
    "a recipient's full number never survives, wherever it is put",
    (tree, d, path, key) => {
      const phone = `+${d}`;
      const data = embed(tree, key, `message to ${phone} failed`, path);
      expect(JSON.stringify(fleet.value(data))).not.toContain(phone);
    },
  );

  fcTest.prop([json, fc.string({ minLength: 12 }).map((s) => `TEXT<${s}>`), fc.nat()])(
    'a message text never survives, wherever the message is',
    (tree, text, path) => {
      const data = embed(tree, 'text', text, path);
      expect(JSON.stringify(fleet.value(data))).not.toContain(text);
    },
  );

  fcTest.prop([json, digits, fc.nat()])('sanitising twice changes nothing', (tree, d, path) => {
    const once = fleet.value(embed(tree, 'to', `+${d}`, path));
    expect(fleet.value(once)).toEqual(once);
  });

  fcTest.prop([json])('the result is plain JSON that survives a round trip unchanged', (tree) => {
    const clean = fleet.value(tree);
    expect(JSON.parse(JSON.stringify(clean ?? null))).toEqual(clean ?? null);
  });
});
