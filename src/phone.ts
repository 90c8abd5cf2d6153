// Phone numbers: validated and normalised to E.164 with libphonenumber-js (full metadata, so
// invalid ranges are told apart from merely possible ones).
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

export type PhoneResult =
  | { ok: true; phone: string; country: string | undefined }
  | { ok: false; reason: string };

export function normalizePhone(input: unknown): PhoneResult {
  if (typeof input !== 'string' || input.trim() === '')
    return { ok: false, reason: 'a phone number is required' };
  const raw = input.trim();
  if (!raw.startsWith('+')) {
    return {
      ok: false,
      reason: `"${raw}" is not in international format: start with + and the country code`,
    };
  }
  const parsed = parsePhoneNumberFromString(raw);
  if (!parsed) return { ok: false, reason: `"${raw}" is not a phone number` };
  if (!parsed.isPossible()) return { ok: false, reason: `"${raw}" has the wrong length for its country` };
  if (!parsed.isValid()) return { ok: false, reason: `"${raw}" is not a valid number in any assigned range` };
  return { ok: true, phone: parsed.number, country: parsed.country };
}

/** The country a number belongs to, or undefined; cheap enough for routing only when cached. */
export function countryOf(phone: string): CountryCode | undefined {
  return parsePhoneNumberFromString(phone)?.country;
}
