import { type ConversationEvent } from '@parley/contracts';
import {
  DEFAULT_CONVERSATION_RULES,
  evolveConversation,
  initialConversationState,
} from './conversation/conversation.decider';
import {
  restoreConversation,
  restoreUser,
  snapshotConversation,
  snapshotUser,
  SnapshotFormatError,
} from './snapshot';
import { evolveUser, initialUserState } from './user/user.decider';

const T0 = 1_763_800_000_000;
const env = { v: 1 as const, conversationId: 'g:team', commandId: 'c' };
const history: ConversationEvent[] = [
  {
    ...env,
    at: T0,
    type: 'GroupCreated',
    data: { name: 'Team', owner: 'alice', members: ['alice', 'bob', 'carol'] },
  },
  {
    ...env,
    at: T0 + 1,
    type: 'MessageSent',
    data: { seq: 1, from: 'bob', clientMsgId: 'b1', kind: 'text', body: 'hi', mentions: [] },
  },
  {
    ...env,
    at: T0 + 2,
    type: 'MemberLeft',
    data: { userId: 'carol', by: 'carol', atSeq: 1, reason: 'left' },
  },
  { ...env, at: T0 + 3, type: 'MembersJoined', data: { userIds: ['dave'], by: 'alice', joinSeq: 1 } },
  {
    ...env,
    at: T0 + 4,
    type: 'MessageSent',
    data: { seq: 2, from: 'dave', clientMsgId: 'd1', kind: 'image', body: 'x', mentions: ['bob'] },
  },
  { ...env, at: T0 + 5, type: 'MessageRecalled', data: { seq: 2, by: 'dave' } },
  {
    ...env,
    at: T0 + 6,
    type: 'MemberLeft',
    data: { userId: 'alice', by: 'alice', atSeq: 2, reason: 'left' },
  },
];

function folded(events = history) {
  return events.reduce(
    (s, e, i) => evolveConversation(s, e, { streamSeq: 10 + i }),
    initialConversationState('g:team'),
  );
}

describe('snapshots', () => {
  it('conversation › a restored snapshot equals the fold it was taken from, through JSON', () => {
    const state = folded();
    const json = JSON.parse(JSON.stringify(snapshotConversation(state))) as unknown;
    const restored = restoreConversation('g:team', 1, json);
    expect(snapshotConversation(restored)).toEqual(snapshotConversation(state));
    expect({ ...restored, window: undefined }).toEqual({ ...state, window: undefined });
  });

  it('conversation › the record keeps what the read models need beyond the decisions', () => {
    const { record, owner, members } = folded();
    expect(owner).toBe('bob'); // longest-standing member after alice left
    expect(record.ownerVersion).toBe(16);
    expect(record.left).toEqual(
      new Map([
        ['carol', { joinSeq: 0, leftSeq: 1, joinedAt: T0, version: 12 }],
        ['alice', { joinSeq: 0, leftSeq: 2, joinedAt: T0, version: 16 }],
      ]),
    );
    expect(members.get('dave')).toMatchObject({ joinSeq: 1, joinedAt: T0 + 3, version: 13 });
    expect(record.last).toMatchObject({ seq: 2, streamSeq: 14, recalled: true, mentions: ['bob'] });
    expect(record.speakers).toEqual(
      new Map([
        ['bob', T0 + 1],
        ['dave', T0 + 4],
      ]),
    );
    expect(record).toMatchObject({ createdAt: T0, activeAt: T0 + 4, dissolvedAt: null });
  });

  it('conversation › the recall memory is bounded by count whatever the window', () => {
    const rules = { ...DEFAULT_CONVERSATION_RULES, maxRecallEntries: 3, maxDedupEntries: 2 };
    let s = folded(history.slice(0, 1));
    for (let seq = 1; seq <= 10; seq++) {
      s = evolveConversation(
        s,
        {
          ...env,
          at: T0 + seq,
          type: 'MessageSent',
          data: { seq, from: 'bob', clientMsgId: `m${seq}`, kind: 'text', body: '', mentions: [] },
        },
        { streamSeq: seq + 1 },
        rules,
      );
    }
    expect([7, 8, 9, 10].map((seq) => s.window.recallable(seq)?.from)).toEqual([
      undefined,
      'bob',
      'bob',
      'bob',
    ]);
    expect(s.window.dedupSize).toBe(2);
    expect(s.window.original('bob', 'm8')).toBeUndefined();
    expect(s.window.original('bob', 'm9')).toEqual({ seq: 9, streamSeq: 10, at: T0 + 9 });
  });

  it('user › round trip', () => {
    const state = evolveUser(initialUserState('bob'), {
      type: 'ReadMarked',
      v: 1,
      userId: 'bob',
      at: T0,
      commandId: 'c',
      data: { conversationId: 'g:team', readSeq: 4 },
    });
    expect(restoreUser('bob', 1, JSON.parse(JSON.stringify(snapshotUser(state))))).toEqual(state);
  });

  it.each([
    ['an unknown version', 2, (j: Record<string, unknown>) => j],
    ['a missing field', 1, (j: Record<string, unknown>) => ({ ...j, lastSeq: undefined })],
    ['a negative seq', 1, (j: Record<string, unknown>) => ({ ...j, lastSeq: -1 })],
    [
      'window columns of different lengths',
      1,
      (j: Record<string, unknown>) => ({ ...j, window: { ...(j.window as object), at: [] } }),
    ],
    ['a bad role', 1, (j: Record<string, unknown>) => ({ ...j, members: [['bob', 0, 'king', 0, 0, 0]] })],
    ['not an object', 1, () => 'garbage' as unknown as Record<string, unknown>],
  ])('conversation › %s is refused with SnapshotFormatError', (_what, v, damage) => {
    const json = JSON.parse(JSON.stringify(snapshotConversation(folded()))) as Record<string, unknown>;
    expect(() => restoreConversation('g:team', v, damage(json))).toThrow(SnapshotFormatError);
  });
});
