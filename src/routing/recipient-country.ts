// The recipient's country for geolocation routing, on the hot path: most calling codes belong to one
// country (answered from a table, no parsing); shared ones (+1, +7, +44 ...) need libphonenumber's
// full parse, done once per recipient and cached.
import { getCountries, getCountryCallingCode } from 'libphonenumber-js/max';
import { countryOf } from '../phone.ts';

/** Calling code (as a number) -> its only country, or null when several countries share it. */
let byCallingCode: Map<number, string | null> | undefined;

function callingCodes(): Map<number, string | null> {
  if (byCallingCode) return byCallingCode;
  byCallingCode = new Map();
  for (const country of getCountries()) {
    const code = Number(getCountryCallingCode(country));
    byCallingCode.set(code, byCallingCode.has(code) ? null : country);
  }
  return byCallingCode;
}

export class CountryLookup {
  readonly #codes = callingCodes();
  /** Recipients under a shared calling code -> country ('' for none). */
  readonly #cache = new Map<string, string>();
  readonly #limit: number;
  /** Full parses done (cache misses), for the benchmark and tests. */
  parses = 0;

  constructor(options: { cacheSize?: number } = {}) {
    this.#limit = options.cacheSize ?? 100_000;
  }

  /** ISO country of an E.164 number, or undefined (unknown, non-geographic or malformed). */
  countryOf(to: string): string | undefined {
    if (to.charCodeAt(0) === 43 /* + */) {
      // Calling codes are prefix-free: the first 1-3 digit prefix that is one is the code.
      let code = 0;
      for (let k = 1; k <= 3 && k < to.length; k++) {
        const digit = to.charCodeAt(k) - 48;
        if (digit < 0 || digit > 9) break;
        code = code * 10 + digit;
        const country = this.#codes.get(code);
        if (country) return country;
        if (country === null) break;
      }
    }
    const cached = this.#cache.get(to);
    if (cached !== undefined) return cached === '' ? undefined : cached;
    this.parses++;
    const country = countryOf(to) ?? '';
    // A full cache starts over rather than tracking recency: misses are rare next to hits.
    if (this.#cache.size >= this.#limit) this.#cache.clear();
    this.#cache.set(to, country);
    return country === '' ? undefined : country;
  }
}
