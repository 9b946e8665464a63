import { fnv1a32 } from '@parley/contracts';
/** Names of the projections, also their checkpoint and position names. */
export const PROJECTION_NAMES = ['history', 'counters'] as const;
/** One projection. */
export type ProjectionName = (typeof PROJECTION_NAMES)[number];

/**
 * Shards of the active-groups index: spreading it over a few keys keeps one group's message from
 * making a single key hot on a Redis Cluster (each shard can live on its own slot).
 */
export const ACTIVE_SHARDS = 8;

/**
 * Every Redis key of the counters projection, built in one place (never concatenated at call sites).
 * Keys of one conversation share the hash tag `{<cid>}` and keys of one user `{<uid>}`, so each
 * conversation's and each user's keys sit on one Cluster slot; every write touches exactly one key.
 */
export class RedisKeys {
  constructor(
    /** Prefix of every key (`IM_REDIS_PREFIX`, default `im:`). */
    readonly prefix: string,
  ) {}

  /** Hash: type, name, lastSeq, lastStreamSeq, lastAt, last (JSON preview), lastRecalled, activeAt, dissolvedAt. */
  head(cid: string): string {
    return `${this.prefix}conv:{${cid}}:head`;
  }

  /** Hash: userId → `<version>|<joinSeq>|<leftSeq or empty>` (version = stream seq of the membership event). */
  members(cid: string): string {
    return `${this.prefix}conv:{${cid}}:members`;
  }

  /** Sorted set: userId scored by the event time of their latest message (groups only). */
  speakers(cid: string): string {
    return `${this.prefix}conv:{${cid}}:speakers`;
  }

  /** Hash: conversationId → `<version>|<joinSeq>|<leftSeq or empty>`; written on membership changes only. */
  userConversations(uid: string): string {
    return `${this.prefix}user:{${uid}}:convs`;
  }

  /** Hash: conversationId → explicit read seq (ReadMarked), max-merged. */
  userReads(uid: string): string {
    return `${this.prefix}user:{${uid}}:read`;
  }

  /** Hash: conversationId → seq of the user's own latest message there, max-merged. */
  userOwn(uid: string): string {
    return `${this.prefix}user:{${uid}}:own`;
  }

  /** Sorted set shard: group conversationId scored by the event time of its latest message. */
  active(shard: number): string {
    return `${this.prefix}active:${shard}`;
  }

  /** Every active-groups shard key. */
  activeAll(): string[] {
    return Array.from({ length: ACTIVE_SHARDS }, (_, i) => this.active(i));
  }

  /**
   * The shard of a conversation in the active-groups index: the contracts' fnv1a32, the one string hash
   * of the project (it replaced a `h * 31` hash: keys written before need `rebuild counters`).
   */
  activeShard(cid: string): number {
    return fnv1a32(cid) % ACTIVE_SHARDS;
  }

  /** String: the stream seq up to which a projection has applied every event (its resume position). */
  position(name: ProjectionName): string {
    return `${this.prefix}projection:${name}:position`;
  }

  /** Glob matching every key of this prefix (for rebuilds). */
  pattern(): string {
    return `${this.prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  }
}

/** A membership as stored in the members and user-conversations hashes. */
export interface StoredMembership {
  /** Stream seq of the event that set it: a newer version wins, so replays and redeliveries change nothing. */
  version: number;
  /** The conversation's lastSeq when the user (re)joined. */
  joinSeq: number;
  /** The conversation's lastSeq when the user left, or null while a member. */
  leftSeq: number | null;
}

/** The join seq of a leave, which does not carry it: written `*`, the merge keeps the stored one. */
export const KEEP_JOIN_SEQ = '*';

/**
 * Encodes a membership as `<version>|<joinSeq>|<leftSeq or empty>` (the Lua merge compares the version);
 * the one place that writes the format.
 */
export function encodeMembership(
  m: Omit<StoredMembership, 'joinSeq'> & { joinSeq: number | typeof KEEP_JOIN_SEQ },
): string {
  return `${m.version}|${m.joinSeq}|${m.leftSeq ?? ''}`;
}

const versionOf = (encoded: string): number => Number(encoded.slice(0, encoded.indexOf('|')));

/**
 * The newer of two encoded memberships (by version), a kept join seq (`*`) taken from the older: what
 * the HVERSIONED script does with the stored value, so a batch merged in memory first ends the same.
 */
export function mergeMembership(current: string | undefined, next: string): string {
  if (current === undefined) return next;
  if (versionOf(current) >= versionOf(next)) return current;
  return next.replace(`|${KEEP_JOIN_SEQ}|`, `|${current.split('|')[1]}|`);
}

/** Decodes {@link encodeMembership}; throws on anything else. */
export function decodeMembership(value: string): StoredMembership {
  const match = /^(\d+)\|(\d+)\|(\d*)$/.exec(value);
  if (!match) throw new Error(`malformed membership value ${JSON.stringify(value)}`);
  return {
    version: Number(match[1]),
    joinSeq: Number(match[2]),
    leftSeq: match[3] === '' ? null : Number(match[3]),
  };
}
