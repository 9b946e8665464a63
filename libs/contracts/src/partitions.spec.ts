import {
  conversationActorKey,
  fnv1a32,
  partitionCommandSubject,
  partitionOf,
  partitionSubjects,
  userActorKey,
} from '.';

describe('partitions', () => {
  it('fnv1a32 › matches the published FNV-1a test vectors', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('fnv1a32 › hashes UTF-8 bytes, not UTF-16 code units', () => {
    // 'é' is two UTF-8 bytes (c3 a9): the same as hashing those bytes one by one.
    let h = 0x811c9dc5;
    for (const b of [0xc3, 0xa9]) h = Math.imul(h ^ b, 0x01000193) >>> 0;
    expect(fnv1a32('é')).toBe(h);
  });

  it('partitionOf › fixed vectors other services can check their implementation against', () => {
    expect(conversationActorKey('g:team')).toBe('conv:g:team');
    expect(userActorKey('alice')).toBe('user:alice');
    // Computed independently (Python): h = 0x811c9dc5; for b in key.encode(): h = ((h ^ b) * 0x01000193) & 0xffffffff
    expect(fnv1a32('conv:g:team')).toBe(0x14f69c47);
    expect(partitionOf('conv:g:team', 32)).toBe(7);
    expect(fnv1a32('conv:d:alice:bob')).toBe(0xce728c3a);
    expect(partitionOf('conv:d:alice:bob', 32)).toBe(26);
    expect(fnv1a32('user:alice')).toBe(0x37452510);
    expect(partitionOf('user:alice', 32)).toBe(16);
    expect(fnv1a32('user:bob')).toBe(0x623861c3);
    expect(partitionOf('user:bob', 32)).toBe(3);
  });

  it('partitionOf › spreads keys over every partition and rejects a bad count', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) seen.add(partitionOf(conversationActorKey(`g:group${i}`), 32));
    expect(seen.size).toBe(32);
    expect(() => partitionOf('x', 0)).toThrow('partitions must be a positive integer');
  });

  it('partition subjects › im.part.<n>.<tail>', () => {
    expect(partitionCommandSubject(7, 'conv.g:team.send')).toBe('im.part.7.conv.g:team.send');
    expect(partitionSubjects(7)).toBe('im.part.7.>');
  });
});
