// One failover incident: move everything a failed master owned to a backup, as one commit.
// selecting -> transferring -> activating -> completed | rolledBack. Pure: the IO is provided.
import { assign, fromPromise, setup } from 'xstate';

export interface FailoverInput {
  id: string;
  from: string;
  /** Manual failover: the backup the operator asked for. */
  to?: string;
  reason: string;
  manual: boolean;
}

export interface SelectBackupInput {
  id: string;
  from: string;
  preferred: string | undefined;
}

export interface TransferInput {
  id: string;
  from: string;
  /** null: no backup; the messages go back to the queue and wait. */
  to: string | null;
  reason: string;
  manual: boolean;
}

export interface Moved {
  messages: number;
  contacts: number;
  /**
   * Set when the transfer did not use the chosen backup: it had stopped being routable by the time
   * the transfer committed (its own incident may already have run), so the messages went back to
   * the queue instead (null).
   */
  backup?: string | null;
}

export interface FailoverContext extends FailoverInput {
  backup: string | null;
  transferAttempts: number;
  maxTransferAttempts: number;
  moved: Moved;
  /** Why it ended as it did, in words an operator can act on. */
  note: string | null;
  outcome: 'completed' | 'rolledBack' | null;
}

export type FailoverOutput = Pick<FailoverContext, 'id' | 'from' | 'backup' | 'moved' | 'note'> & {
  status: 'completed' | 'rolledBack';
};

export type AuditInput = FailoverOutput & Pick<FailoverContext, 'reason' | 'manual'>;

function outputOf(context: FailoverContext): FailoverOutput {
  return {
    id: context.id,
    from: context.from,
    backup: context.backup,
    moved: context.moved,
    note: context.note,
    status: context.outcome ?? 'rolledBack',
  };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const failoverMachine = setup({
  types: {
    input: {} as FailoverInput & { maxTransferAttempts?: number },
    context: {} as FailoverContext,
    output: {} as FailoverOutput,
  },
  actors: {
    selectBackup: fromPromise<string | null, SelectBackupInput>(() => {
      throw new Error('selectBackup is not provided');
    }),
    transfer: fromPromise<Moved, TransferInput>(() => {
      throw new Error('transfer is not provided');
    }),
    activate: fromPromise<void, { id: string; from: string; to: string | null }>(() => {
      throw new Error('activate is not provided');
    }),
    /** Writes the incident's final state to the audit log (a completed transfer already did). */
    audit: fromPromise<void, AuditInput>(() => {
      throw new Error('audit is not provided');
    }),
  },
  delays: {
    transferRetry: ({ context }) => 200 * 2 ** context.transferAttempts,
  },
  guards: {
    mayRetryTransfer: ({ context }) => context.transferAttempts + 1 < context.maxTransferAttempts,
  },
}).createMachine({
  id: 'failover',
  context: ({ input }) => ({
    id: input.id,
    from: input.from,
    ...(input.to === undefined ? {} : { to: input.to }),
    reason: input.reason,
    manual: input.manual,
    backup: null,
    transferAttempts: 0,
    maxTransferAttempts: input.maxTransferAttempts ?? 3,
    moved: { messages: 0, contacts: 0 },
    note: null,
    outcome: null,
  }),
  initial: 'selecting',
  states: {
    // Routable masters only: by priority, then same region, then spare capacity.
    selecting: {
      invoke: {
        src: 'selectBackup',
        input: ({ context }) => ({ id: context.id, from: context.from, preferred: context.to }),
        onDone: {
          target: 'transferring',
          actions: assign({
            backup: ({ event }) => event.output,
            note: ({ event }) =>
              event.output === null ? 'no routable backup: the messages wait in the queue' : null,
          }),
        },
        onError: {
          target: 'recording',
          actions: assign({ outcome: 'rolledBack', note: ({ event }) => errorText(event.error) }),
        },
      },
    },
    // One atomic commit: messages, affinity and the audit record, or nothing.
    transferring: {
      invoke: {
        src: 'transfer',
        input: ({ context }) => ({
          id: context.id,
          from: context.from,
          to: context.backup,
          reason: context.reason,
          manual: context.manual,
        }),
        onDone: {
          target: 'activating',
          actions: assign({
            moved: ({ event }) => ({ messages: event.output.messages, contacts: event.output.contacts }),
            backup: ({ context, event }) =>
              event.output.backup === undefined ? context.backup : event.output.backup,
          }),
        },
        onError: [
          {
            guard: 'mayRetryTransfer',
            target: 'waitingToRetry',
            actions: assign({
              transferAttempts: ({ context }) => context.transferAttempts + 1,
              note: ({ event }) => `commit failed, retrying: ${errorText(event.error)}`,
            }),
          },
          {
            target: 'recording',
            actions: assign({
              outcome: 'rolledBack',
              transferAttempts: ({ context }) => context.transferAttempts + 1,
              note: ({ context, event }) =>
                `commit failed ${context.transferAttempts + 1} times, nothing moved: ${errorText(event.error)}`,
            }),
          },
        ],
      },
    },
    waitingToRetry: {
      after: { transferRetry: 'transferring' },
    },
    // The backup starts taking the moved traffic. If it failed meanwhile, its own incident moves it on.
    activating: {
      invoke: {
        src: 'activate',
        input: ({ context }) => ({ id: context.id, from: context.from, to: context.backup }),
        onDone: { target: 'recording', actions: assign({ outcome: 'completed' }) },
        onError: {
          target: 'recording',
          actions: assign({
            outcome: 'completed',
            note: ({ event }) => `moved, but the backup is not taking traffic: ${errorText(event.error)}`,
          }),
        },
      },
    },
    // The audit record gets the outcome (a transfer wrote it already, in its own commit).
    recording: {
      invoke: {
        src: 'audit',
        input: ({ context }) => ({ ...outputOf(context), reason: context.reason, manual: context.manual }),
        onDone: 'finished',
        onError: 'finished',
      },
    },
    finished: {
      always: [
        { guard: ({ context }) => context.outcome === 'completed', target: 'completed' },
        { target: 'rolledBack' },
      ],
    },
    completed: { type: 'final' },
    rolledBack: { type: 'final' },
  },
  output: ({ context }) => outputOf(context),
});

export type FailoverMachine = typeof failoverMachine;
