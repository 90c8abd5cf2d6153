// StoreState's move of a master's contacts (the failover's biggest op): the forward map and the
// index agree after a move, a merge into a master that has contacts, a move to nobody, and the undo
// of each (a failed commit puts memory back exactly).
import { describe, expect, it } from 'vitest';
import { StoreState, type UndoEntry } from '../../../src/store/state.ts';

const A = '+971501234567';
const B = '+971501234568';

function withContacts(a: number, b: number): StoreState {
  const s = new StoreState();
  for (let i = 0; i < a; i++) s.apply(['put', 'affinity', `+1555000${1000 + i}`, A]);
  for (let i = 0; i < b; i++) s.apply(['put', 'affinity', `+1555111${1000 + i}`, B]);
  return s;
}

function view(s: StoreState) {
  return {
    affinity: Object.fromEntries(s.map('affinity')),
    a: [...s.contactsOf(A)].sort(),
    b: [...s.contactsOf(B)].sort(),
  };
}

describe('StoreState: moving a master contacts', () => {
  for (const [label, b] of [
    ['to a master with no contacts', 0],
    ['merged into a master that has some', 7],
  ] as const) {
    it(`${label}: the map and the index agree, and undo puts both back`, () => {
      const s = withContacts(50, b);
      const before = view(s);
      const undo: UndoEntry[] = [];
      s.apply(['move', A, B], undo);
      expect(undo).toHaveLength(1); // one entry, however many contacts
      expect(s.contactsOf(A).size).toBe(0);
      expect(s.contactsOf(B).size).toBe(50 + b);
      expect(new Set(s.map('affinity').values())).toEqual(new Set([B]));
      s.undo(undo);
      expect(view(s)).toEqual(before);
      // and the restored index is live: a second move finds the contacts again
      s.apply(['move', A, B]);
      expect(s.contactsOf(B).size).toBe(50 + b);
    });
  }

  it('to nobody (no backup): the entries go, and undo brings them back', () => {
    const s = withContacts(20, 3);
    const before = view(s);
    const undo: UndoEntry[] = [];
    s.apply(['move', A, null], undo);
    expect(s.map('affinity').size).toBe(3);
    expect(s.contactsOf(A).size).toBe(0);
    s.undo(undo);
    expect(view(s)).toEqual(before);
  });

  it('a later change to the backup set does not leak into the undo of the move', () => {
    const s = withContacts(5, 0);
    const undo: UndoEntry[] = [];
    s.apply(['move', A, B], undo);
    s.apply(['put', 'affinity', '+15559999999', B], undo);
    s.undo(undo);
    expect(s.contactsOf(A).size).toBe(5);
    expect(s.contactsOf(B).size).toBe(0);
    expect(s.get('affinity', '+15559999999')).toBeUndefined();
  });
});
