// Phone numbers: validated and normalised to E.164 with libphonenumber-js (full metadata, so
// invalid ranges are told apart from merely possible ones).
import { type CountryCode, parsePhoneNumberFromString } from 'libphonenumber-js/max';

export type PhoneResult =
  | { ok: true; phone: string; country: string | undefined }
  | { ok: false; reason: string };

/**
 * Results by input, kept for the most recent inputs: a business writes to the same contacts again
 * and again, and a full parse and validation costs ~40 us (6% of a durable accept's CPU in the
 * store bench's profile). The results are immutable values, safe to share.
 */
const recent = new Map<string, PhoneResult>();
const RECENT_MAX = 10_000;

export function normalizePhone(input: unknown): PhoneResult {
  if (typeof input !== 'string') return parse(input);
  const hit = recent.get(input);
  if (hit) return hit;
  const result = Object.freeze(parse(input));
  // Oldest first in a Map: drop the oldest when full (an approximate LRU; enough for a cache).
  if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value as string);
  recent.set(input, result);
  return result;
}

function parse(input: unknown): PhoneResult {
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
