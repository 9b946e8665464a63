import { ErrorCode, ParleyError, type UserEvent } from '@parley/contracts';
import { type CommandMeta, type Decision } from '../decision';
import { effectiveReadSeq, unreadCount } from '../read-state';

/** Everything a user actor knows: its explicit read position per conversation. */
export interface UserState {
  /** The user. */
  userId: string;
  /** conversationId → readSeq (monotonic). */
  readSeqs: Map<string, number>;
}

/** Commands a user actor decides. */
export type UserCommand = { type: 'MarkRead'; conversationId: string; seq: number };

/** What the conversation actor answers about this user, asked before a MarkRead is decided. */
export interface ConversationMembership {
  /** The conversation exists (a group was created, a direct chat has a message). */
  exists: boolean;
  /** The user is a current member. */
  isMember: boolean;
  /** The user's joinSeq (0 if not a member). */
  joinSeq: number;
  /** The conversation's last seq. */
  lastSeq: number;
  /** Seq of the user's own latest message there. */
  ownLastSeq: number;
  /** The conversation was dissolved. */
  dissolved: boolean;
}

/** The answer to a MarkRead: the resulting effective read position and unread count. */
export interface ReadOutcome {
  /** Conversation. */
  conversationId: string;
  /** Effective read seq after the command (max of readSeq, joinSeq, own latest message). */
  readSeq: number;
  /** Unread messages after the command. */
  unread: number;
}

/** The state of a user with no events yet. */
export function initialUserState(userId: string): UserState {
  return { userId, readSeqs: new Map() };
}

/**
 * Decides a MarkRead: the read position is clamped to lastSeq and never moves backwards, so a stale
 * or too-large seq is harmless. Returns the ReadMarked to append (or none) and the outcome to answer.
 */
export function decideUser(
  state: UserState,
  command: UserCommand,
  conversation: ConversationMembership,
  meta: CommandMeta,
): { decision: Decision<UserEvent>; outcome: ReadOutcome } {
  const { conversationId } = command;
  if (!conversation.exists) throw new ParleyError(ErrorCode.NOT_FOUND, `${conversationId} does not exist`);
  if (!conversation.isMember) {
    throw new ParleyError(ErrorCode.FORBIDDEN, `${state.userId} is not a member of ${conversationId}`);
  }
  if (!Number.isInteger(command.seq) || command.seq < 0) {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, 'seq must be a non-negative integer');
  }
  const current = state.readSeqs.get(conversationId) ?? 0;
  const next = Math.max(current, Math.min(command.seq, conversation.lastSeq));
  const view = { ...conversation, readSeq: next };
  const outcome = { conversationId, readSeq: effectiveReadSeq(view), unread: unreadCount(view) };
  if (next === current) return { decision: { type: 'none' }, outcome };
  return {
    decision: {
      type: 'append',
      event: {
        type: 'ReadMarked',
        v: 1,
        userId: state.userId,
        at: meta.now,
        commandId: meta.commandId,
        data: { conversationId, readSeq: next },
      },
    },
    outcome,
  };
}

/** Folds a user event; like the conversation evolve it updates and returns the state it is given. */
export function evolveUser(state: UserState, event: UserEvent): UserState {
  switch (event.type) {
    case 'ReadMarked': {
      const current = state.readSeqs.get(event.data.conversationId) ?? 0;
      state.readSeqs.set(event.data.conversationId, Math.max(current, event.data.readSeq));
      return state;
    }
    default: {
      const _exhaustive: never = event.type;
      return _exhaustive;
    }
  }
}
