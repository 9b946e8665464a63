import { type ParleyEvent } from '@parley/contracts';
import { RedisKeys } from '@parley/read-model';
import { type ProjectedEvent } from '../projected-event';
import { countersCommands, planCounters } from './counters.plan';

const at = 1_763_800_000_000;
const conv = { v: 1 as const, conversationId: 'g:team', at, commandId: 'c' };
const sent = (seq: number, from: string, cid = 'g:team'): ParleyEvent => ({
  ...conv,
  conversationId: cid,
  at: at + seq,
  type: 'MessageSent',
  data: { seq, from, clientMsgId: `m${seq}`, kind: 'text', body: 'x'.repeat(seq), mentions: [] },
});
const seqd = (events: ParleyEvent[], from = 1): ProjectedEvent[] =>
  events.map((event, i) => ({ event, streamSeq: from + i }));
const keys = new RedisKeys('im:');

describe('planCounters', () => {
  it('MessageSent › O(1) merges per message: head, sender own seq, speaker, active group; nothing per member', () => {
    const plan = planCounters(seqd([sent(1, 'alice'), sent(2, 'bob'), sent(3, 'alice')]), 2);
    expect(plan.heads.get('g:team')).toMatchObject({
      type: 'group',
      activeAt: at + 3,
      last: { seq: 3, streamSeq: 3 },
    });
    expect(JSON.parse(plan.heads.get('g:team')!.last!.preview)).toMatchObject({
      seq: 3,
      from: 'alice',
      body: 'xx',
    });
    expect(plan.own).toEqual(
      new Map([
        ['alice', new Map([['g:team', 3]])],
        ['bob', new Map([['g:team', 2]])],
      ]),
    );
    expect(plan.speakers.get('g:team')).toEqual(
      new Map([
        ['alice', at + 3],
        ['bob', at + 2],
      ]),
    );
    expect(plan.members.size).toBe(0);
    expect(plan.userConversations.size).toBe(0);
  });

  it('MessageSent in a direct chat › both users get it in their conversation list; no hot-group entries', () => {
    const plan = planCounters(seqd([sent(1, 'alice', 'd:alice:bob')]), 200);
    expect(plan.userConversations.get('bob')).toEqual(new Map([['d:alice:bob', '0|0|']]));
    expect(plan.speakers.size + plan.active.size).toBe(0);
  });

  it('a leave replacing a join of the same batch inherits its join seq, like the Lua merge does', () => {
    const plan = planCounters(
      seqd(
        [
          { ...conv, type: 'MembersJoined', data: { userIds: ['carol'], by: 'alice', joinSeq: 100 } },
          { ...conv, type: 'MemberLeft', data: { userId: 'carol', by: 'carol', atSeq: 120, reason: 'left' } },
        ],
        10,
      ),
      200,
    );
    expect(plan.members.get('g:team')!.get('carol')).toBe('11|100|120');
    const alone = planCounters(
      seqd(
        [{ ...conv, type: 'MemberLeft', data: { userId: 'carol', by: 'carol', atSeq: 120, reason: 'left' } }],
        11,
      ),
      200,
    );
    expect(alone.userConversations.get('carol')!.get('g:team')).toBe('11|*|120');
  });

  it('ReadMarked › a max per user and conversation', () => {
    const read = (readSeq: number): ParleyEvent => ({
      type: 'ReadMarked',
      v: 1,
      userId: 'bob',
      at,
      commandId: 'r',
      data: { conversationId: 'g:team', readSeq },
    });
    expect(planCounters(seqd([read(5), read(3)]), 200).reads).toEqual(
      new Map([['bob', new Map([['g:team', 5]])]]),
    );
  });

  it('countersCommands › one command per key, each on a single key, in a stable order', () => {
    const events = seqd([
      { ...conv, type: 'GroupCreated', data: { name: 'Team', owner: 'alice', members: ['alice', 'bob'] } },
      sent(1, 'alice'),
      { ...conv, type: 'MessageRecalled', data: { seq: 1, by: 'alice' } },
    ]);
    const commands = countersCommands(planCounters(events, 200), keys);
    expect(commands.map((c) => [c.cmd, c.key])).toEqual([
      ['parleyHead', 'im:conv:{g:team}:head'],
      ['parleyHversioned', 'im:conv:{g:team}:members'],
      ['parleyHversioned', 'im:user:{alice}:convs'],
      ['parleyHversioned', 'im:user:{bob}:convs'],
      ['parleyHmax', 'im:user:{alice}:own'],
      ['zaddGt', 'im:conv:{g:team}:speakers'],
      ['zaddGt', keys.active(keys.activeShard('g:team'))],
    ]);
    expect(commands[0].args.slice(0, 4)).toEqual(['group', 'Team', at + 1, 1]);
    expect(commands[0].args.slice(8)).toEqual([1]);
    expect(commands[1].args).toEqual(['alice', '1|0|', 'bob', '1|0|']);
  });
});
