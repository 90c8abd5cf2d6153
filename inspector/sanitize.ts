// Makes inspection data safe to show in a browser: tokens and credentials redacted, message texts
// dropped, recipients' phone numbers masked (the fleet's own numbers stay readable), and every value
// bounded in depth and size, so an actor's context can never push a megabyte or a secret to a page.

/** What a removed value is replaced with, so a reader sees that something was there. */
export const REDACTED = '[redacted]';
export const TEXT_REMOVED = '[text removed]';

/** Keys whose values are credentials of some kind (the API token, Baileys' auth state, cookies). */
const SECRET_KEY =
  /token|secret|passw|authori[sz]ation|api_?key|cookie|credential|creds|private_?key|noise_?key|pre_?key|signature|session_?key|auth_?state/i;
/** Keys whose values are message texts: never shown, whatever their content. */
const TEXT_KEY = /^(text|body|caption|content|conversation|message_?text)$/i;
/** An E.164 number (+ and 7 to 15 digits) or a WhatsApp JID's user part (digits before @s.whatsapp.net). */
const PHONE = /\+\d{7,15}(?![\d•])|(?<![\d+•])\d{7,15}(?=@)/g;
const BEARER = /\bBearer\s+[^\s"',;]+/gi;

export interface SanitizeOptions {
  /** Numbers shown as they are: the fleet's own masters (they name actors; they are not recipients). */
  isFleetNumber?: (phone: string) => boolean;
  /** How an actor reference found inside a value is named (default: its id). */
  actorLabel?: (ref: ActorRefShape) => string;
  maxDepth?: number;
  maxString?: number;
  maxItems?: number;
}

export interface ActorRefShape {
  sessionId: string;
  id?: string;
  send: (...args: never[]) => unknown;
}

/** Sanitised JSON: what goes on the wire. */
export type Clean = null | boolean | number | string | Clean[] | { [key: string]: Clean };

/** `+971501234567` -> `+9715012•••67`: enough to tell numbers apart, not enough to dial one. */
export function maskPhone(phone: string): string {
  const plus = phone.startsWith('+') ? '+' : '';
  const digits = plus ? phone.slice(1) : phone;
  // Short numbers keep less, so at least three digits are always hidden.
  const keep = Math.max(2, Math.min(7, digits.length - 5));
  return `${plus}${digits.slice(0, keep)}•••${digits.slice(-2)}`;
}

export class Sanitizer {
  readonly #isFleet: (phone: string) => boolean;
  readonly #actorLabel: (ref: ActorRefShape) => string;
  readonly #maxDepth: number;
  readonly #maxString: number;
  readonly #maxItems: number;

  constructor(options: SanitizeOptions = {}) {
    this.#isFleet = options.isFleetNumber ?? (() => false);
    this.#actorLabel = options.actorLabel ?? ((ref) => ref.id ?? ref.sessionId);
    this.#maxDepth = options.maxDepth ?? 6;
    this.#maxString = options.maxString ?? 300;
    this.#maxItems = options.maxItems ?? 50;
  }

  /** A string with every recipient's number masked and bearer tokens cut, shortened to maxString. */
  text(value: string): string {
    let out = value;
    if (out.length > this.#maxString) out = `${out.slice(0, this.#maxString)}…`;
    if (out.includes('earer')) out = out.replace(BEARER, `Bearer ${REDACTED}`);
    return out.replace(PHONE, (phone) => (this.#isFleet(phone) ? phone : maskPhone(phone)));
  }

  /** Any value to bounded, JSON-safe, secret-free data. */
  value(value: unknown, depth = 0): Clean | undefined {
    switch (typeof value) {
      case 'string':
        return this.text(value);
      case 'number':
        return Number.isFinite(value) ? value : String(value);
      case 'boolean':
        return value;
      case 'bigint':
        return value.toString();
      case 'undefined':
      case 'function':
      case 'symbol':
        return undefined;
    }
    if (value === null) return null;
    if (depth >= this.#maxDepth) return '[…]';
    if (isActorRef(value)) return { actor: this.text(this.#actorLabel(value)) };
    if (value instanceof Error) return { error: value.name, message: this.text(value.message) };
    if (value instanceof Date) return value.toISOString();
    if (Array.isArray(value) || value instanceof Set) return this.#list([...value], depth);
    if (value instanceof Map) return this.#record(value.entries(), depth);
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
    return this.#record(Object.entries(value as object), depth);
  }

  /** An event as it may be shown: `type` kept, everything else sanitised. */
  event(event: { type: string }): { type: string; [key: string]: Clean } {
    const clean = this.value(event);
    const payload = clean && typeof clean === 'object' && !Array.isArray(clean) ? clean : {};
    return { ...payload, type: this.text(event.type) };
  }

  #list(items: unknown[], depth: number): Clean[] {
    const out: Clean[] = [];
    for (const item of items.slice(0, this.#maxItems)) out.push(this.value(item, depth + 1) ?? null);
    if (items.length > this.#maxItems) out.push(`… ${items.length - this.#maxItems} more`);
    return out;
  }

  #record(entries: Iterable<[unknown, unknown]>, depth: number): { [key: string]: Clean } {
    const out: { [key: string]: Clean } = {};
    let n = 0;
    let more = 0;
    for (const [rawKey, item] of entries) {
      if (n >= this.#maxItems) {
        more++;
        continue;
      }
      const key = this.text(String(rawKey));
      // Credentials are strings or objects; a number under such a key (a rate limit's `tokens`) is not one.
      if (SECRET_KEY.test(key) && (typeof item === 'string' || (typeof item === 'object' && item !== null))) {
        out[key] = REDACTED;
      } else if (TEXT_KEY.test(key) && typeof item === 'string') {
        out[key] = TEXT_REMOVED;
      } else {
        const clean = this.value(item, depth + 1);
        if (clean === undefined) continue;
        // A key "__proto__" from outside must stay data, not become the object's prototype.
        if (key === '__proto__')
          Object.defineProperty(out, key, {
            value: clean,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        else out[key] = clean;
      }
      n++;
    }
    if (more > 0) out['…'] = `${more} more`;
    return out;
  }
}

function isActorRef(value: unknown): value is ActorRefShape {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ActorRefShape).sessionId === 'string' &&
    typeof (value as ActorRefShape).send === 'function'
  );
}
