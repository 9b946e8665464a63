import { previewBody } from './message';
import { decodeMembership, encodeMembership, RedisKeys } from './redis/redis-keys';
import { isTransientStoreError } from './store-errors';

describe('RedisKeys', () => {
  const k = new RedisKeys('im:');

  it('puts each conversation and each user on one hash tag', () => {
    expect([k.head('g:a'), k.members('g:a'), k.speakers('g:a')]).toEqual([
      'im:conv:{g:a}:head',
      'im:conv:{g:a}:members',
      'im:conv:{g:a}:speakers',
    ]);
    expect([k.userConversations('bob'), k.userReads('bob'), k.userOwn('bob')]).toEqual([
      'im:user:{bob}:convs',
      'im:user:{bob}:read',
      'im:user:{bob}:own',
    ]);
    expect(k.position('history')).toBe('im:projection:history:position');
  });

  it('spreads groups over the active shards, stably', () => {
    const shards = new Set(Array.from({ length: 200 }, (_, i) => k.activeShard(`g:grp${i}`)));
    expect(shards.size).toBe(k.activeAll().length);
    expect(k.activeShard('g:team')).toBe(k.activeShard('g:team'));
  });

  it('escapes glob characters of the prefix for SCAN', () => {
    expect(new RedisKeys('a*b:').pattern()).toBe('a\\*b:*');
  });
});

describe('membership encoding', () => {
  it('round-trips members and leavers', () => {
    for (const m of [
      { version: 7, joinSeq: 100, leftSeq: null },
      { version: 9, joinSeq: 100, leftSeq: 120 },
    ]) {
      expect(decodeMembership(encodeMembership(m))).toEqual(m);
    }
    expect(() => decodeMembership('7|*|3')).toThrow(/malformed/);
  });
});

describe('previewBody', () => {
  it('cuts without splitting a surrogate pair', () => {
    expect(previewBody('ab😀c', 3)).toBe('ab');
    expect(previewBody('abc', 3)).toBe('abc');
  });
});

describe('isTransientStoreError', () => {
  it('retries outages, not bad data or bugs', () => {
    expect(
      isTransientStoreError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(true);
    expect(
      isTransientStoreError(
        Object.assign(new Error('lost'), { code: 'PROTOCOL_CONNECTION_LOST', fatal: true }),
      ),
    ).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('deadlock'), { code: 'ER_LOCK_DEADLOCK' }))).toBe(
      true,
    );
    expect(
      isTransientStoreError(new Error("Stream isn't writeable and enableOfflineQueue options is false")),
    ).toBe(true);
    expect(isTransientStoreError(Object.assign(new Error('too long'), { code: 'ER_DATA_TOO_LONG' }))).toBe(
      false,
    );
    expect(isTransientStoreError(new TypeError('x is undefined'))).toBe(false);
  });
});
