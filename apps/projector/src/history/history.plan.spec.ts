import { type ParleyEvent } from '@parley/contracts';
import { type ProjectedEvent } from '../projected-event';
import { planHistory } from './history.plan';

const at = 1_763_800_000_000;
const conv = { v: 1 as const, conversationId: 'g:team', at, commandId: 'c' };
const sent = (seq: number, from = 'alice', t = at + seq, conversationId = 'g:team'): ParleyEvent => ({
  ...conv,
  conversationId,
  at: t,
  type: 'MessageSent',
  data: { seq, from, clientMsgId: `m${seq}`, kind: 'text', body: `hi ${seq}`, mentions: ['bob'] },
});
const batch = (...events: ParleyEvent[]): ProjectedEvent[] =>
  events.map((event, i) => ({ event, streamSeq: i + 1 }));

describe('planHistory', () => {
  it('GroupCreated › writes the conversation with its owner and one member row each, owner first', () => {
    const plan = planHistory(
      batch({
        ...conv,
        type: 'GroupCreated',
        data: { name: 'Team', owner: 'alice', members: ['alice', 'bob'] },
      }),
    );
    expect(plan.created).toEqual([
      { id: 'g:team', name: 'Team', owner: 'alice', ownerVersion: 1, createdAt: at },
    ]);
    expect(plan.membership).toHaveLength(1);
    expect(plan.membership[0].rows.map((r) => [r.userId, r.role, r.joinSeq, r.version])).toEqual([
      ['alice', 'owner', 0, 1],
      ['bob', 'member', 0, 1],
    ]);
  });

  it('MessageSent › one message row each and one conversation touch with the highest seq', () => {
    const plan = planHistory(batch(sent(2), sent(1), sent(3, 'bob')));
    expect(plan.messages.map((m) => [m.seq, m.sender, m.mentions])).toEqual([
      [2, 'alice', '["bob"]'],
      [1, 'alice', '["bob"]'],
      [3, 'bob', '["bob"]'],
    ]);
    expect(plan.touched).toEqual([
      { id: 'g:team', type: 'group', lastSeq: 3, lastMessageAt: at + 3, createdAt: at + 1 },
    ]);
  });

  it('MessageSent › a direct chat makes both ids members (version 0, never overriding a real event)', () => {
    const plan = planHistory(batch(sent(1, 'alice', at, 'd:alice:bob')));
    expect(plan.directMembers.map((m) => [m.userId, m.version, m.leftSeq])).toEqual([
      ['alice', 0, null],
      ['bob', 0, null],
    ]);
    expect(plan.touched[0].type).toBe('direct');
  });

  it('MembersJoined and MemberLeft › stay in stream order, each with its owner check', () => {
    const plan = planHistory([
      {
        streamSeq: 9,
        event: { ...conv, type: 'MemberLeft', data: { userId: 'bob', by: 'bob', atSeq: 4, reason: 'left' } },
      },
      {
        streamSeq: 7,
        event: { ...conv, type: 'MembersJoined', data: { userIds: ['bob'], by: 'bob', joinSeq: 2 } },
      },
    ]);
    expect(plan.membership.map((s) => [s.streamSeq, s.ownerCheck])).toEqual([
      [7, { kind: 'joined' }],
      [9, { kind: 'left', userId: 'bob' }],
    ]);
    expect(plan.membership[1].rows[0]).toMatchObject({ userId: 'bob', leftSeq: 4, version: 9 });
  });

  it('MembersJoined and MemberLeft that name the owner › the plan sets it, no election', () => {
    const plan = planHistory([
      {
        streamSeq: 7,
        event: {
          ...conv,
          type: 'MembersJoined',
          data: { userIds: ['bob'], by: 'bob', joinSeq: 2, newOwner: 'bob' },
        },
      },
      {
        streamSeq: 9,
        event: {
          ...conv,
          type: 'MemberLeft',
          data: { userId: 'carol', by: 'carol', atSeq: 4, reason: 'left', newOwner: null },
        },
      },
      {
        streamSeq: 11,
        event: {
          ...conv,
          type: 'MemberLeft',
          data: { userId: 'bob', by: 'bob', atSeq: 4, reason: 'left', newOwner: '' },
        },
      },
    ]);
    expect(plan.membership.map((s) => [s.streamSeq, s.ownerCheck])).toEqual([
      [7, { kind: 'named', owner: 'bob' }],
      [9, null],
      [11, { kind: 'named', owner: '' }],
    ]);
  });

  it('a redelivered event inside one batch is planned once; recalls and dissolve keep the earliest time', () => {
    const recall = (t: number): ParleyEvent => ({
      ...conv,
      at: t,
      type: 'MessageRecalled',
      data: { seq: 1, by: 'alice' },
    });
    const plan = planHistory([
      { streamSeq: 1, event: sent(1) },
      { streamSeq: 1, event: sent(1) },
      { streamSeq: 2, event: recall(at + 50) },
      {
        streamSeq: 3,
        event: { ...conv, at: at + 60, type: 'GroupDissolved', data: { by: 'alice', atSeq: 1 } },
      },
    ]);
    expect(plan.messages).toHaveLength(1);
    expect(plan.recalls).toEqual([
      { conversationId: 'g:team', seq: 1, recalledAt: at + 50, recalledStreamSeq: 2 },
    ]);
    expect(plan.dissolved).toEqual([{ id: 'g:team', type: 'group', dissolvedAt: at + 60 }]);
  });

  it('ReadMarked › writes nothing to MySQL', () => {
    const plan = planHistory(
      batch({
        type: 'ReadMarked',
        v: 1,
        userId: 'bob',
        at,
        commandId: 'r',
        data: { conversationId: 'g:team', readSeq: 3 },
      }),
    );
    expect(Object.values(plan).every((rows) => rows.length === 0)).toBe(true);
  });
});
