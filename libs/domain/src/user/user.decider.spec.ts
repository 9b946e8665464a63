import { ErrorCode, type UserEvent } from '@parley/contracts';
import { DeciderSpecification } from '@parley/testing';
import {
  type ConversationMembership,
  decideUser,
  evolveUser,
  initialUserState,
  type UserCommand,
} from './user.decider';

const meta = { now: 1_763_800_000_000, commandId: 'cmd-r' };
const member: ConversationMembership = {
  exists: true,
  isMember: true,
  joinSeq: 0,
  lastSeq: 10,
  ownLastSeq: 0,
  dissolved: false,
};
const read = (readSeq: number, conversationId = 'g:team'): UserEvent => ({
  type: 'ReadMarked',
  v: 1,
  userId: 'bob',
  at: meta.now,
  commandId: 'c',
  data: { conversationId, readSeq },
});
const markRead = (seq: number): UserCommand => ({ type: 'MarkRead', conversationId: 'g:team', seq });

const spec = (conversation: ConversationMembership) =>
  DeciderSpecification.for<UserEvent[], UserCommand, ReturnType<typeof decideUser>>({
    decide: (events, command) =>
      decideUser(events.reduce(evolveUser, initialUserState('bob')), command, conversation, meta),
  });

describe('user', () => {
  describe('MarkRead', () => {
    it('emits ReadMarked and answers readSeq and unread', () =>
      spec(member)
        .given([])
        .when(markRead(4))
        .then({
          decision: { type: 'append', event: { ...read(4), at: meta.now, commandId: 'cmd-r' } },
          outcome: { conversationId: 'g:team', readSeq: 4, unread: 6 },
        }));

    it('clamps a seq beyond lastSeq to lastSeq', () =>
      spec(member)
        .given([])
        .when(markRead(99))
        .then({
          decision: {
            type: 'append',
            event: expect.objectContaining({ data: { conversationId: 'g:team', readSeq: 10 } }),
          },
          outcome: { conversationId: 'g:team', readSeq: 10, unread: 0 },
        }));

    it('never moves backwards: an older seq emits nothing and answers the current position', () =>
      spec(member)
        .given([read(7)])
        .when(markRead(3))
        .then({ decision: { type: 'none' }, outcome: { conversationId: 'g:team', readSeq: 7, unread: 3 } }));

    it('counts from joinSeq for a member who joined late', () =>
      spec({ ...member, joinSeq: 8 })
        .given([])
        .when(markRead(2))
        .then(expect.objectContaining({ outcome: { conversationId: 'g:team', readSeq: 8, unread: 2 } })));

    it('counts the user’s own latest message as read', () =>
      spec({ ...member, ownLastSeq: 9 })
        .given([])
        .when(markRead(0))
        .then({ decision: { type: 'none' }, outcome: { conversationId: 'g:team', readSeq: 9, unread: 1 } }));

    it('after leave and rejoin, unread is counted from the new joinSeq and is never negative', () =>
      spec({ ...member, joinSeq: 12, lastSeq: 12 })
        .given([read(3)])
        .when(markRead(5))
        .then(expect.objectContaining({ outcome: { conversationId: 'g:team', readSeq: 12, unread: 0 } })));

    it('refuses a non-member with FORBIDDEN', () =>
      spec({ ...member, isMember: false })
        .given([])
        .when(markRead(1))
        .thenThrows(ErrorCode.FORBIDDEN));

    it('refuses a conversation that does not exist with NOT_FOUND', () =>
      spec({ ...member, exists: false })
        .given([])
        .when(markRead(1))
        .thenThrows(ErrorCode.NOT_FOUND));

    it('refuses a negative seq with INVALID_ARGUMENT', () =>
      spec(member).given([]).when(markRead(-1)).thenThrows(ErrorCode.INVALID_ARGUMENT));
  });

  it('evolve keeps the highest read seq per conversation whatever the order', () => {
    const s = [read(5), read(2, 'g:other'), read(3)].reduce(evolveUser, initialUserState('bob'));
    expect(Object.fromEntries(s.readSeqs)).toEqual({ 'g:team': 5, 'g:other': 2 });
  });
});
