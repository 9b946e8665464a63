import { type ConversationEvent, ErrorCode } from '@parley/contracts';
import { DeciderSpecification } from '@parley/testing';
import { type CommandMeta } from '../decision';
import {
  type ConversationCommand,
  type ConversationDecision,
  DEFAULT_CONVERSATION_RULES,
  decideConversation,
  evolveConversation,
  initialConversationState,
  successorOf,
} from './conversation.decider';

const T0 = 1_763_800_000_000;
const meta: CommandMeta = { now: T0 + 60_000, commandId: 'cmd-1' };
const rules = { ...DEFAULT_CONVERSATION_RULES, maxBodyBytes: 32, recallWindowMs: 120_000 };

let streamSeq = 0;
const spec = (conversationId: string) =>
  DeciderSpecification.for<ConversationEvent[], ConversationCommand, ConversationDecision>({
    decide: (events, command) => {
      const state = events.reduce(
        (s, e) => evolveConversation(s, e, { streamSeq: ++streamSeq }, rules),
        initialConversationState(conversationId),
      );
      return decideConversation(state, command, meta, rules);
    },
  });

const env = { v: 1 as const, conversationId: 'g:team', at: T0, commandId: 'c' };
const created = (members = ['bob']): ConversationEvent => ({
  ...env,
  type: 'GroupCreated',
  data: { name: 'Team', owner: 'alice', members: ['alice', ...members] },
});
const sent = (seq: number, from: string, clientMsgId = `m${seq}`, at = T0): ConversationEvent => ({
  ...env,
  at,
  type: 'MessageSent',
  data: { seq, from, clientMsgId, kind: 'text', body: 'hi', mentions: [] },
});
const joined = (userIds: string[], joinSeq: number): ConversationEvent => ({
  ...env,
  type: 'MembersJoined',
  data: { userIds, by: 'alice', joinSeq },
});
const left = (userId: string, atSeq: number, by = userId): ConversationEvent => ({
  ...env,
  type: 'MemberLeft',
  data: { userId, by, atSeq, reason: by === userId ? 'left' : 'removed' },
});
const dissolved: ConversationEvent = { ...env, type: 'GroupDissolved', data: { by: 'alice', atSeq: 0 } };
const send = (
  from: string,
  clientMsgId = 'x',
  body = 'hello',
  mentions: string[] = [],
): ConversationCommand => ({
  type: 'SendMessage',
  from,
  clientMsgId,
  kind: 'text',
  body,
  mentions,
});
const appended = (
  event: Omit<ConversationEvent, 'v' | 'conversationId' | 'at' | 'commandId'>,
  cid = 'g:team',
) => ({
  type: 'append',
  event: { v: 1, conversationId: cid, at: meta.now, commandId: meta.commandId, ...event },
});

describe('conversation', () => {
  const group = spec('g:team');

  describe('CreateGroup', () => {
    it('emits GroupCreated with the creator as owner and member', () =>
      group
        .given([])
        .when({ type: 'CreateGroup', by: 'alice', name: 'Team', members: ['bob', 'alice', 'bob'] })
        .then(
          appended({
            type: 'GroupCreated',
            data: { name: 'Team', owner: 'alice', members: ['alice', 'bob'] },
          }),
        ));

    it('refuses a group that already exists with ALREADY_EXISTS', () =>
      group
        .given([created()])
        .when({ type: 'CreateGroup', by: 'bob', name: 'x', members: [] })
        .thenThrows(ErrorCode.ALREADY_EXISTS));

    it('refuses to create a direct conversation', () =>
      spec('d:alice:bob')
        .given([])
        .when({ type: 'CreateGroup', by: 'alice', name: 'x', members: [] })
        .thenThrows(ErrorCode.INVALID_ARGUMENT));
  });

  describe('SendMessage', () => {
    it('emits MessageSent with seq 1 first, then the next seq', () =>
      group
        .given([created(), sent(1, 'alice'), sent(2, 'bob')])
        .when(send('bob', 'c3', 'hey', ['alice']))
        .then(
          appended({
            type: 'MessageSent',
            data: { seq: 3, from: 'bob', clientMsgId: 'c3', kind: 'text', body: 'hey', mentions: ['alice'] },
          }),
        ));

    it('answers a resend of the same (from, clientMsgId) with the original', () =>
      group
        .given([created(), sent(1, 'alice', 'dup', T0 + 5)])
        .when(send('alice', 'dup'))
        .then({ type: 'duplicate', original: { seq: 1, streamSeq: expect.any(Number), at: T0 + 5 } }));

    it('treats the same clientMsgId from another sender as a new message', () =>
      group
        .given([created(), sent(1, 'alice', 'dup')])
        .when(send('bob', 'dup'))
        .then(expect.objectContaining({ type: 'append' })));

    it('refuses a non-member with FORBIDDEN', () =>
      group.given([created()]).when(send('mallory')).thenThrows(ErrorCode.FORBIDDEN));

    it('refuses a group that does not exist with NOT_FOUND', () =>
      group.given([]).when(send('alice')).thenThrows(ErrorCode.NOT_FOUND));

    it('refuses a dissolved group with GONE', () =>
      group.given([created(), dissolved]).when(send('alice')).thenThrows(ErrorCode.GONE));

    it('refuses a body over the limit in UTF-8 bytes with PAYLOAD_TOO_LARGE', () =>
      group
        .given([created()])
        .when(send('alice', 'big', '€'.repeat(11)))
        .thenThrows(ErrorCode.PAYLOAD_TOO_LARGE));

    it('accepts a body exactly at the limit', () =>
      group
        .given([created()])
        .when(send('alice', 'edge', 'x'.repeat(32)))
        .then(expect.objectContaining({ type: 'append' })));

    it('refuses mentions of non-members with INVALID_ARGUMENT', () =>
      group
        .given([created()])
        .when(send('alice', 'm', 'hi', ['bob', 'mallory']))
        .thenThrows(ErrorCode.INVALID_ARGUMENT));

    it('refuses a member who left', () =>
      group
        .given([created(), left('bob', 0)])
        .when(send('bob'))
        .thenThrows(ErrorCode.FORBIDDEN));

    it('forgets clientMsgIds older than the dedup window', () =>
      spec('g:team')
        .given([
          created(),
          sent(1, 'alice', 'old', T0 - DEFAULT_CONVERSATION_RULES.dedupWindowMs - 1),
          sent(2, 'bob', 'new', T0),
        ])
        .when(send('alice', 'old'))
        .then(expect.objectContaining({ type: 'append' })));
  });

  describe('direct conversation', () => {
    const direct = spec('d:alice:bob');
    const dEnv = { ...env, conversationId: 'd:alice:bob' };

    it('is opened implicitly by the first message from either side', () => {
      direct
        .given([])
        .when(send('alice', 'a1'))
        .then(
          expect.objectContaining({
            type: 'append',
            event: expect.objectContaining({ data: expect.objectContaining({ seq: 1, from: 'alice' }) }),
          }),
        );
      direct
        .given([])
        .when(send('bob', 'b1'))
        .then(
          expect.objectContaining({
            type: 'append',
            event: expect.objectContaining({ data: expect.objectContaining({ seq: 1, from: 'bob' }) }),
          }),
        );
    });

    it('continues the seq from either side', () =>
      direct
        .given([
          {
            ...dEnv,
            type: 'MessageSent',
            data: { seq: 1, from: 'alice', clientMsgId: 'a1', kind: 'text', body: 'x', mentions: [] },
          },
        ])
        .when(send('bob', 'b1'))
        .then(
          appended(
            {
              type: 'MessageSent',
              data: { seq: 2, from: 'bob', clientMsgId: 'b1', kind: 'text', body: 'hello', mentions: [] },
            },
            'd:alice:bob',
          ),
        ));

    it('refuses a third user with FORBIDDEN', () =>
      direct.given([]).when(send('carol')).thenThrows(ErrorCode.FORBIDDEN));

    it('refuses group commands', () =>
      direct
        .given([])
        .when({ type: 'JoinGroup', by: 'alice', userIds: ['carol'] })
        .thenThrows(ErrorCode.INVALID_ARGUMENT));
  });

  describe('JoinGroup', () => {
    it('records joinSeq = lastSeq so history and unread start after it', () =>
      group
        .given([created(), sent(1, 'alice'), sent(2, 'alice')])
        .when({ type: 'JoinGroup', by: 'alice', userIds: ['carol'] })
        .then(
          appended({
            type: 'MembersJoined',
            data: { userIds: ['carol'], by: 'alice', joinSeq: 2, newOwner: null },
          }),
        ));

    it('lets a non-member add only themself', () => {
      group
        .given([created()])
        .when({ type: 'JoinGroup', by: 'carol', userIds: ['carol'] })
        .then(expect.objectContaining({ type: 'append' }));
      group
        .given([created()])
        .when({ type: 'JoinGroup', by: 'carol', userIds: ['dave'] })
        .thenThrows(ErrorCode.FORBIDDEN);
    });

    it('is idempotent: joining members who are already in emits nothing', () =>
      group
        .given([created()])
        .when({ type: 'JoinGroup', by: 'alice', userIds: ['bob'] })
        .then({ type: 'none' }));

    it('lets a member who left rejoin with a new joinSeq', () =>
      group
        .given([created(), sent(1, 'alice'), left('bob', 1), sent(2, 'alice'), sent(3, 'alice')])
        .when({ type: 'JoinGroup', by: 'bob', userIds: ['bob'] })
        .then(
          appended({
            type: 'MembersJoined',
            data: { userIds: ['bob'], by: 'bob', joinSeq: 3, newOwner: null },
          }),
        ));

    it('refuses a dissolved group with GONE', () =>
      group
        .given([created(), dissolved])
        .when({ type: 'JoinGroup', by: 'carol', userIds: ['carol'] })
        .thenThrows(ErrorCode.GONE));
  });

  describe('LeaveGroup', () => {
    it('emits MemberLeft with reason left for a self-leave', () =>
      group
        .given([created(), sent(1, 'alice')])
        .when({ type: 'LeaveGroup', by: 'bob', userId: 'bob' })
        .then(
          appended({
            type: 'MemberLeft',
            data: { userId: 'bob', by: 'bob', atSeq: 1, reason: 'left', newOwner: null },
          }),
        ));

    it('lets the owner remove others (reason removed), nobody else', () => {
      group
        .given([created(['bob', 'carol'])])
        .when({ type: 'LeaveGroup', by: 'alice', userId: 'bob' })
        .then(
          appended({
            type: 'MemberLeft',
            data: { userId: 'bob', by: 'alice', atSeq: 0, reason: 'removed', newOwner: null },
          }),
        );
      group
        .given([created(['bob', 'carol'])])
        .when({ type: 'LeaveGroup', by: 'carol', userId: 'bob' })
        .thenThrows(ErrorCode.FORBIDDEN);
    });

    it('refuses someone who is not a member with NOT_FOUND', () =>
      group
        .given([created()])
        .when({ type: 'LeaveGroup', by: 'carol', userId: 'carol' })
        .thenThrows(ErrorCode.NOT_FOUND));

    it('passes ownership to the longest-standing member when the owner leaves', () =>
      group
        .given([created(['bob']), sent(1, 'bob'), joined(['carol'], 1), left('alice', 1)])
        .when({ type: 'DissolveGroup', by: 'bob' })
        .then(expect.objectContaining({ type: 'append' })));

    it('names the successor (longest-standing, then id) in MemberLeft.newOwner when the owner leaves', () =>
      group
        .given([created(['bob']), sent(1, 'bob'), joined(['carol', 'aaron'], 1)])
        .when({ type: 'LeaveGroup', by: 'alice', userId: 'alice' })
        .then(
          appended({
            type: 'MemberLeft',
            data: { userId: 'alice', by: 'alice', atSeq: 1, reason: 'left', newOwner: 'bob' },
          }),
        ));

    it("names nobody ('') when the owner was the last member, and the next joiner becomes owner", () => {
      group
        .given([created([])])
        .when({ type: 'LeaveGroup', by: 'alice', userId: 'alice' })
        .then(
          appended({
            type: 'MemberLeft',
            data: { userId: 'alice', by: 'alice', atSeq: 0, reason: 'left', newOwner: '' },
          }),
        );
      group
        .given([
          created([]),
          { ...left('alice', 0), data: { ...left('alice', 0).data, newOwner: '' } } as ConversationEvent,
        ])
        .when({ type: 'JoinGroup', by: 'dave', userIds: ['dave'] })
        .then(
          appended({
            type: 'MembersJoined',
            data: { userIds: ['dave'], by: 'dave', joinSeq: 0, newOwner: 'dave' },
          }),
        );
    });

    it('folds the named owner, and events written before newOwner existed by the same rule', () => {
      const fold = (events: ConversationEvent[]) =>
        events.reduce(
          (s, e, i) => evolveConversation(s, e, { streamSeq: i + 1 }, rules),
          initialConversationState('g:team'),
        );
      const legacy = fold([created(['bob']), sent(1, 'bob'), joined(['carol'], 1), left('alice', 1)]);
      const named = fold([
        created(['bob']),
        sent(1, 'bob'),
        joined(['carol'], 1),
        {
          ...env,
          type: 'MemberLeft',
          data: { userId: 'alice', by: 'alice', atSeq: 1, reason: 'left', newOwner: 'bob' },
        },
      ]);
      for (const s of [legacy, named]) {
        expect([s.owner, s.members.get('bob')?.role, s.record.ownerVersion]).toEqual(['bob', 'owner', 4]);
      }
      const rejoined = fold([created([]), left('alice', 0), joined(['zed', 'carol'], 0)]);
      expect([rejoined.owner, rejoined.members.get('carol')?.role]).toEqual(['carol', 'owner']);
    });

    it('successorOf › lowest joinSeq, then id; nobody gives an empty owner', () => {
      expect(
        successorOf([
          ['zed', { joinSeq: 0 }],
          ['amy', { joinSeq: 3 }],
          ['bob', { joinSeq: 0 }],
        ]),
      ).toBe('bob');
      expect(successorOf([])).toBe('');
    });

    it('the old owner can no longer remove anyone after leaving', () =>
      group
        .given([created(['bob', 'carol']), left('alice', 0)])
        .when({ type: 'LeaveGroup', by: 'alice', userId: 'bob' })
        .thenThrows(ErrorCode.FORBIDDEN));
  });

  describe('DissolveGroup', () => {
    it('lets the owner dissolve', () =>
      group
        .given([created(), sent(1, 'bob')])
        .when({ type: 'DissolveGroup', by: 'alice' })
        .then(appended({ type: 'GroupDissolved', data: { by: 'alice', atSeq: 1 } })));

    it('refuses anyone else with FORBIDDEN', () =>
      group.given([created()]).when({ type: 'DissolveGroup', by: 'bob' }).thenThrows(ErrorCode.FORBIDDEN));

    it('refuses a second dissolve with GONE', () =>
      group
        .given([created(), dissolved])
        .when({ type: 'DissolveGroup', by: 'alice' })
        .thenThrows(ErrorCode.GONE));
  });

  describe('RecallMessage', () => {
    it('lets the sender recall their message', () =>
      group
        .given([created(), sent(1, 'bob', 'm1', T0)])
        .when({ type: 'RecallMessage', by: 'bob', seq: 1 })
        .then(appended({ type: 'MessageRecalled', data: { seq: 1, by: 'bob' } })));

    it('refuses someone else’s message with FORBIDDEN unless they own the group', () => {
      group
        .given([created(['bob', 'carol']), sent(1, 'bob')])
        .when({ type: 'RecallMessage', by: 'carol', seq: 1 })
        .thenThrows(ErrorCode.FORBIDDEN);
      group
        .given([created(['bob', 'carol']), sent(1, 'bob')])
        .when({ type: 'RecallMessage', by: 'alice', seq: 1 })
        .then(appended({ type: 'MessageRecalled', data: { seq: 1, by: 'alice' } }));
    });

    it('is idempotent: recalling twice emits nothing the second time', () =>
      group
        .given([created(), sent(1, 'bob'), { ...env, type: 'MessageRecalled', data: { seq: 1, by: 'bob' } }])
        .when({ type: 'RecallMessage', by: 'bob', seq: 1 })
        .then({ type: 'none' }));

    it('refuses an unknown seq with NOT_FOUND', () =>
      group
        .given([created(), sent(1, 'bob')])
        .when({ type: 'RecallMessage', by: 'bob', seq: 2 })
        .thenThrows(ErrorCode.NOT_FOUND));

    it('refuses a message past the recall window with FORBIDDEN', () =>
      group
        .given([created(), sent(1, 'bob', 'm1', T0 - 120_000)])
        .when({ type: 'RecallMessage', by: 'bob', seq: 1 })
        .thenThrows(ErrorCode.FORBIDDEN));

    it('refuses a recall in a dissolved group with GONE', () =>
      group
        .given([created(), sent(1, 'bob'), dissolved])
        .when({ type: 'RecallMessage', by: 'bob', seq: 1 })
        .thenThrows(ErrorCode.GONE));
  });
});
