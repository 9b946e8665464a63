import { type LeaseSlot } from './lease-bucket';
import { fairShare, planBalance, planStop, planTakeovers, rank, viewOf } from './lease-plan';

const held = (hostId: string, revision = 1): LeaseSlot => ({
  revision,
  deleted: false,
  lease: { hostId, since: 0 },
});
const deleted = (revision = 1): LeaseSlot => ({ revision, deleted: true });

describe('lease plan (pure, no NATS)', () => {
  it('viewOf › owners per partition and the live hosts, this one always counted, sorted', () => {
    expect(viewOf('b', { slots: [held('a'), null, deleted(), held('b')], hosts: ['c', 'a'] })).toEqual({
      owners: ['a', '', '', 'b'],
      hosts: ['a', 'b', 'c'],
    });
  });

  it('fairShare › ceil(partitions / hosts)', () => {
    expect([fairShare(32, 1), fairShare(32, 2), fairShare(32, 3), fairShare(4, 0)]).toEqual([32, 16, 11, 4]);
  });

  it('planTakeovers › adopts keys naming this host it does not hold; loses held keys rewritten for another', () => {
    const slots = [held('me', 5), held('other', 9), held('me', 3), null];
    const mine = new Map([
      [1, 4], // rewritten since (revision 9 > 4) naming someone else: lost
      [2, 3], // unchanged: kept
      [3, 7], // the key is gone: not taken by anyone, kept until its renewal fails
    ]);
    expect(planTakeovers('me', slots, mine)).toEqual({ adopt: [0], lost: [1] });
  });

  it('planBalance › a lone host takes every free key in its own order; deleted keys only where CAS is safe', () => {
    const slots = [null, deleted(), null, null];
    const view = viewOf('a', { slots, hosts: [] });
    const safe = planBalance({ hostId: 'a', partitions: 4, view, slots, held: [], casSafe: true });
    expect(safe.handOff).toEqual([]);
    expect([...safe.acquire].sort()).toEqual([0, 1, 2, 3]);
    expect(safe.acquire).toEqual([0, 1, 2, 3].sort((x, y) => rank('a', x) - rank('a', y)));
    const unsafe = planBalance({ hostId: 'a', partitions: 4, view, slots, held: [], casSafe: false });
    expect([...unsafe.acquire].sort()).toEqual([0, 2, 3]);
  });

  it('planBalance › a host below its share takes only what it lacks, and only free keys', () => {
    const slots = [held('a'), held('a'), held('a'), null, null, held('b')];
    const view = viewOf('b', { slots, hosts: ['a'] });
    const plan = planBalance({ hostId: 'b', partitions: 6, view, slots, held: [5], casSafe: true });
    expect(plan.handOff).toEqual([]);
    expect([...plan.acquire].sort()).toEqual([3, 4]);
  });

  it('planBalance › a host above its share hands its highest partitions to the most starved hosts', () => {
    const slots = [held('a'), held('a'), held('a'), held('a'), held('a'), held('a'), held('c')];
    const view = viewOf('a', { slots, hosts: ['b', 'c'] });
    // share ceil(7/3) = 3: a gives 3; b wants 3, c wants 2 — b first.
    const plan = planBalance({
      hostId: 'a',
      partitions: 7,
      view,
      slots,
      held: [0, 1, 2, 3, 4, 5],
      casSafe: true,
    });
    expect(plan).toEqual({
      handOff: [
        [5, 'b'],
        [4, 'b'],
        [3, 'b'],
      ],
      acquire: [],
    });
  });

  it('planBalance › a host at its share does nothing', () => {
    const slots = [held('a'), held('b')];
    const view = viewOf('a', { slots, hosts: ['b'] });
    expect(planBalance({ hostId: 'a', partitions: 2, view, slots, held: [0], casSafe: true })).toEqual({
      handOff: [],
      acquire: [],
    });
  });

  it('planStop › round robin over the other hosts, least loaded first; release when alone', () => {
    const view = { owners: ['a', 'a', 'a', 'b', 'b', 'c'], hosts: ['a', 'b', 'c'] };
    expect(planStop('a', view, [0, 1, 2])).toEqual([
      [0, 'c'],
      [1, 'b'],
      [2, 'c'],
    ]);
    expect(planStop('a', { owners: ['a'], hosts: ['a'] }, [0])).toEqual([[0, null]]);
  });
});
