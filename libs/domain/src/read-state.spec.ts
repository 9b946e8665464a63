import { effectiveReadSeq, unreadCount } from './read-state';

const view = { lastSeq: 10, readSeq: 0, joinSeq: 0, ownLastSeq: 0, isMember: true };

describe('read state', () => {
  it('effectiveReadSeq › takes the largest of readSeq, joinSeq and the own latest message', () => {
    expect(effectiveReadSeq({ readSeq: 3, joinSeq: 5, ownLastSeq: 4 })).toBe(5);
    expect(effectiveReadSeq({ readSeq: 7, joinSeq: 5, ownLastSeq: 4 })).toBe(7);
    expect(effectiveReadSeq({ readSeq: 1, joinSeq: 0, ownLastSeq: 9 })).toBe(9);
  });

  it('unreadCount › counts what is after the effective read seq', () => {
    expect(unreadCount(view)).toBe(10);
    expect(unreadCount({ ...view, readSeq: 4 })).toBe(6);
  });

  it('unreadCount › a member who joined at seq 100 counts from 101', () => {
    expect(unreadCount({ ...view, lastSeq: 103, joinSeq: 100 })).toBe(3);
  });

  it('unreadCount › your own message is read, so is everything before it', () => {
    expect(unreadCount({ ...view, lastSeq: 10, readSeq: 2, ownLastSeq: 8 })).toBe(2);
  });

  it('unreadCount › is never negative and is 0 after leaving', () => {
    expect(unreadCount({ ...view, lastSeq: 5, readSeq: 9 })).toBe(0);
    expect(unreadCount({ ...view, isMember: false })).toBe(0);
  });
});
