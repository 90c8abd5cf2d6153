// Phone numbers: normalised to E.164 or refused with a reason a person can act on, the same answer
// every time an input comes again (recent inputs are answered from a cache).
import { describe, expect, it } from 'vitest';
import { normalizePhone } from '../../src/phone.ts';

describe('normalizePhone', () => {
  it('normalises a valid number to E.164 with its country', () => {
    expect(normalizePhone(' +971 50 123 4567 ')).toEqual({ ok: true, phone: '+971501234567', country: 'AE' });
  });

  it('refuses what is not a number, not international, too short, or in no assigned range, saying which', () => {
    expect(normalizePhone(42)).toEqual({ ok: false, reason: 'a phone number is required' });
    expect(normalizePhone('0501234567')).toMatchObject({ ok: false, reason: /international format/ });
    expect(normalizePhone('+97150')).toMatchObject({ ok: false, reason: /wrong length|not a phone number/ });
    expect(normalizePhone('+15555550100')).toMatchObject({ ok: false, reason: /not a valid number/ });
  });

  it('answers a repeated input the same way, valid or not, and the answer cannot be changed by a caller', () => {
    for (const input of ['+14155552671', '+15555550100', '971501234567']) {
      const first = normalizePhone(input);
      const again = normalizePhone(input);
      expect(again).toEqual(first);
      expect(() => {
        (again as { ok: boolean }).ok = !again.ok;
      }).toThrow(TypeError);
      expect(normalizePhone(input)).toEqual(first);
    }
  });

  it('keeps answering correctly past the cache size (old inputs are parsed again)', () => {
    for (let i = 0; i < 10_050; i++) normalizePhone(`+1415555${String(1000 + (i % 9000)).padStart(4, '0')}`);
    expect(normalizePhone('+971501234567')).toEqual({ ok: true, phone: '+971501234567', country: 'AE' });
  });
});
