// The store's state in memory: one Map per collection, plus the affinity entries indexed by master
// (so a failover moves a master's contacts in O(contacts it has), not O(all contacts)). The same
// apply() runs live, at start-up replay and in the checkpoint worker, so they cannot disagree.
import {
  COLLECTIONS,
  type CollectionName,
  type Collections,
  checkMessage,
  isCollection,
  type MessageRecord,
  type Op,
} from './schema.ts';

/**
 * What apply() needs to put back to undo one op: [collection, key, previous value or undefined], or
 * for a move of a master's contacts, which recipients moved from whom to whom (one entry, however
 * many contacts: a failover's move is the biggest op there is).
 */
export type UndoEntry =
  | readonly [CollectionName, string, unknown]
  | readonly ['@move', string, { readonly recipients: readonly string[]; readonly to: string | null }];

export type StateDocument = { [C in CollectionName]?: Record<string, Collections[C]> };

export class StoreState {
  readonly #maps = new Map<CollectionName, Map<string, unknown>>();
  /** master -> recipients whose affinity points at it */
  readonly #contacts = new Map<string, Set<string>>();

  constructor() {
    for (const c of COLLECTIONS) this.#maps.set(c, new Map());
  }

  map<C extends CollectionName>(c: C): ReadonlyMap<string, Collections[C]> {
    return this.#maps.get(c) as Map<string, Collections[C]>;
  }

  get<C extends CollectionName>(c: C, key: string): Collections[C] | undefined {
    return this.#maps.get(c)!.get(key) as Collections[C] | undefined;
  }

  /** Recipients whose affinity points at `master`. */
  contactsOf(master: string): ReadonlySet<string> {
    return this.#contacts.get(master) ?? EMPTY;
  }

  /** Applies one op; when `undo` is given, records how to reverse it. */
  apply(op: Op, undo?: UndoEntry[]): void {
    switch (op[0]) {
      case 'put':
        this.#set(op[1], op[2], op[3], undo);
        return;
      case 'del':
        this.#set(op[1], op[2], undefined, undo);
        return;
      case 'archive':
        this.#set('messages', op[1].id, undefined, undo);
        return;
      case 'move': {
        // The contacts move as a set: the forward map is rewritten entry by entry, but the index
        // hands the whole set over (or merges it) instead of a delete and an add per contact.
        const [, from, to] = op;
        const moved = this.#contacts.get(from);
        if (!moved || moved.size === 0 || from === to) return;
        this.#contacts.delete(from);
        const affinity = this.#maps.get('affinity')!;
        if (to === null) for (const r of moved) affinity.delete(r);
        else {
          for (const r of moved) affinity.set(r, to);
          const target = this.#contacts.get(to);
          if (!target) this.#contacts.set(to, moved);
          else for (const r of moved) target.add(r);
        }
        undo?.push(['@move', from, { recipients: [...moved], to }]);
        return;
      }
    }
  }

  /** Reverses entries recorded by apply(), newest first. */
  undo(entries: readonly UndoEntry[]): void {
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i]!;
      if (entry[0] === '@move') {
        const [, from, { recipients, to }] = entry;
        for (const r of recipients) this.#set('affinity', r, from);
        if (to !== null && this.#contacts.get(to)?.size === 0) this.#contacts.delete(to);
        continue;
      }
      const [c, key, previous] = entry;
      this.#set(c, key, previous);
    }
  }

  #set(c: CollectionName, key: string, value: unknown, undo?: UndoEntry[]): void {
    const map = this.#maps.get(c)!;
    const previous = map.get(key);
    undo?.push([c, key, previous]);
    if (value === undefined) map.delete(key);
    else map.set(key, value);
    if (c === 'affinity') {
      if (typeof previous === 'string') this.#contacts.get(previous)?.delete(key);
      if (typeof value === 'string') {
        let set = this.#contacts.get(value);
        if (!set) {
          set = new Set();
          this.#contacts.set(value, set);
        }
        set.add(key);
      }
    }
  }

  /** Plain objects for the checkpoint file (values are shared, not copied). */
  toDocument(): StateDocument {
    const doc: Record<string, Record<string, unknown>> = {};
    for (const [c, map] of this.#maps) doc[c] = Object.fromEntries(map);
    return doc as StateDocument;
  }

  /** Builds the state from a checkpoint's collections; names the first thing that is wrong, or throws nothing. */
  static fromDocument(doc: unknown): { state: StoreState } | { problem: string } {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
      return { problem: 'field "collections" is not an object' };
    const state = new StoreState();
    for (const [c, entries] of Object.entries(doc)) {
      if (!isCollection(c)) return { problem: `unknown collection ${JSON.stringify(c)}` };
      if (typeof entries !== 'object' || entries === null || Array.isArray(entries))
        return { problem: `collection "${c}" is not an object` };
      for (const [key, value] of Object.entries(entries as Record<string, unknown>)) {
        if (c === 'messages') {
          const problem = checkMessage(key, value);
          if (problem) return { problem };
        }
        state.#set(c, key, value);
      }
    }
    return { state };
  }

  get messageCount(): number {
    return this.#maps.get('messages')!.size;
  }
}

const EMPTY: ReadonlySet<string> = new Set();

/** The message an archive op carries, for callers that look at ops. */
export function archivedMessage(op: Op): MessageRecord | undefined {
  return op[0] === 'archive' ? op[1] : undefined;
}
