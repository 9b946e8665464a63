import { parseConversationId } from '@parley/contracts';
import {
  encodeMembership,
  KEEP_JOIN_SEQ,
  mergeMembership,
  messagePreview,
  type RedisKeys,
} from '@parley/read-model';
import { type ProjectedEvent } from '../projected-event';
import { type ProjectionSeed } from '../seed';

/** What one batch merges into a conversation head. */
export interface HeadMerge {
  type: 'group' | 'direct';
  /** Set once (from GroupCreated). */
  name: string;
  /** Max event time of creation and messages. */
  activeAt: number;
  /** The highest-seq message of the batch. */
  last?: { seq: number; streamSeq: number; at: number; preview: string };
  /** Set once. */
  dissolvedAt: number;
  /** Recalled seqs. */
  recalls: number[];
}

/** Everything one batch merges into Redis, coalesced per key (every merge is commutative). */
export interface CountersPlan {
  heads: Map<string, HeadMerge>;
  /** cid → uid → encoded membership (highest version kept). */
  members: Map<string, Map<string, string>>;
  /** uid → cid → encoded membership. */
  userConversations: Map<string, Map<string, string>>;
  /** uid → cid → read seq (max). */
  reads: Map<string, Map<string, number>>;
  /** uid → cid → seq of their latest own message (max). */
  own: Map<string, Map<string, number>>;
  /** Group cid → uid → event time of their latest message (max). */
  speakers: Map<string, Map<string, number>>;
  /** Group cid → event time of its latest message (max). */
  active: Map<string, number>;
}

/** One Redis command of a plan: a Lua merge or a native command, on exactly one key. */
export type RedisCommand =
  | { cmd: 'parleyHead' | 'parleyHmax' | 'parleyHversioned'; key: string; args: Array<string | number> }
  | { cmd: 'zaddGt'; key: string; args: Array<string | number> };

function emptyCountersPlan(): CountersPlan {
  const plan: CountersPlan = {
    heads: new Map(),
    members: new Map(),
    userConversations: new Map(),
    reads: new Map(),
    own: new Map(),
    speakers: new Map(),
    active: new Map(),
  };
  return plan;
}

function inner<V>(outer: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let m = outer.get(key);
  if (!m) outer.set(key, (m = new Map()));
  return m;
}

/** Keeps the newer membership per key, as the Lua merge does with the stored value. */
function mergeInto(m: Map<string, string>, key: string, value: string): void {
  m.set(key, mergeMembership(m.get(key), value));
}

function maxInto(m: Map<string, number>, key: string, value: number): void {
  if ((m.get(key) ?? -1) < value) m.set(key, value);
}

/**
 * Maps a batch of events to Redis merges (pure). Per message: the head, the sender's own seq, and for a
 * group the speaker and active-group entries; nothing per member. Membership events update the
 * conversation's members and each affected user's conversation list.
 */
export function planCounters(events: ProjectedEvent[], previewMaxChars: number): CountersPlan {
  const plan = emptyCountersPlan();
  const head = (cid: string): HeadMerge => {
    let h = plan.heads.get(cid);
    if (!h) {
      h = { type: parseConversationId(cid).kind, name: '', activeAt: 0, dissolvedAt: 0, recalls: [] };
      plan.heads.set(cid, h);
    }
    return h;
  };
  const membership = (cid: string, uid: string, value: string) => {
    mergeInto(inner(plan.members, cid), uid, value);
    mergeInto(inner(plan.userConversations, uid), cid, value);
  };

  for (const { event: e, streamSeq } of events) {
    switch (e.type) {
      case 'GroupCreated': {
        const h = head(e.conversationId);
        h.name = e.data.name;
        h.activeAt = Math.max(h.activeAt, e.at);
        const value = encodeMembership({ version: streamSeq, joinSeq: 0, leftSeq: null });
        for (const uid of e.data.members) membership(e.conversationId, uid, value);
        break;
      }
      case 'MembersJoined': {
        const value = encodeMembership({ version: streamSeq, joinSeq: e.data.joinSeq, leftSeq: null });
        for (const uid of e.data.userIds) membership(e.conversationId, uid, value);
        break;
      }
      case 'MemberLeft':
        membership(
          e.conversationId,
          e.data.userId,
          encodeMembership({ version: streamSeq, joinSeq: KEEP_JOIN_SEQ, leftSeq: e.data.atSeq }),
        );
        break;
      case 'MessageSent': {
        const cid = e.conversationId;
        const h = head(cid);
        h.activeAt = Math.max(h.activeAt, e.at);
        if (!h.last || h.last.seq < e.data.seq) {
          const preview = messagePreview(cid, { ...e.data, streamSeq, at: e.at }, previewMaxChars);
          h.last = { seq: e.data.seq, streamSeq, at: e.at, preview: JSON.stringify(preview) };
        }
        maxInto(inner(plan.own, e.data.from), cid, e.data.seq);
        if (h.type === 'direct') {
          // A direct chat's members are the ids in its id, members from its first message (version 0).
          const value = encodeMembership({ version: 0, joinSeq: 0, leftSeq: null });
          for (const uid of cid.split(':').slice(1)) membership(cid, uid, value);
        } else {
          maxInto(inner(plan.speakers, cid), e.data.from, e.at);
          maxInto(plan.active, cid, e.at);
        }
        break;
      }
      case 'MessageRecalled': {
        const h = head(e.conversationId);
        if (!h.recalls.includes(e.data.seq)) h.recalls.push(e.data.seq);
        break;
      }
      case 'GroupDissolved': {
        const h = head(e.conversationId);
        h.dissolvedAt = h.dissolvedAt === 0 ? e.at : Math.min(h.dissolvedAt, e.at);
        break;
      }
      case 'ReadMarked':
        maxInto(inner(plan.reads, e.userId), e.data.conversationId, e.data.readSeq);
        break;
      default: {
        const _exhaustive: never = e;
        return _exhaustive;
      }
    }
  }
  return plan;
}

/** The Redis commands of a plan, one per key, in a deterministic order. */
export function countersCommands(plan: CountersPlan, keys: RedisKeys): RedisCommand[] {
  const out: RedisCommand[] = [];
  const pairs = <V extends string | number>(m: Map<string, V>): Array<string | number> =>
    [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).flat();
  for (const [cid, h] of plan.heads) {
    out.push({
      cmd: 'parleyHead',
      key: keys.head(cid),
      args: [
        h.type,
        h.name,
        h.activeAt,
        h.last?.seq ?? 0,
        h.last?.streamSeq ?? 0,
        h.last?.at ?? 0,
        h.last?.preview ?? '',
        h.dissolvedAt,
        ...h.recalls,
      ],
    });
  }
  for (const [cid, m] of plan.members)
    out.push({ cmd: 'parleyHversioned', key: keys.members(cid), args: pairs(m) });
  for (const [uid, m] of plan.userConversations) {
    out.push({ cmd: 'parleyHversioned', key: keys.userConversations(uid), args: pairs(m) });
  }
  for (const [uid, m] of plan.reads)
    out.push({ cmd: 'parleyHmax', key: keys.userReads(uid), args: pairs(m) });
  for (const [uid, m] of plan.own) out.push({ cmd: 'parleyHmax', key: keys.userOwn(uid), args: pairs(m) });
  for (const [cid, m] of plan.speakers) {
    const args = [...m].flatMap(([uid, at]) => [at, uid]);
    out.push({ cmd: 'zaddGt', key: keys.speakers(cid), args });
  }
  const shards = new Map<number, Array<string | number>>();
  for (const [cid, at] of plan.active) {
    const shard = keys.activeShard(cid);
    shards.set(shard, [...(shards.get(shard) ?? []), at, cid]);
  }
  for (const [shard, args] of shards) out.push({ cmd: 'zaddGt', key: keys.active(shard), args });
  return out;
}

/**
 * The merges of a seed (log retention, DESIGN §15): heads, members, users' conversations, own and read
 * seqs, speakers and active groups as the snapshots know them, each with the version or time the live
 * projection stored, so the remaining log replayed over them ends where the live projection is.
 */
export function seedCountersPlan(seed: ProjectionSeed, previewMaxChars: number): CountersPlan {
  const plan = emptyCountersPlan();
  for (const [cid, { state: s }] of seed.conversations) {
    const r = s.record;
    if (!s.exists) continue;
    const last = r.last ?? undefined;
    const preview = last && messagePreview(cid, last, previewMaxChars);
    plan.heads.set(cid, {
      type: s.kind,
      name: s.kind === 'group' ? s.name : '',
      activeAt: r.activeAt,
      last: last && {
        seq: last.seq,
        streamSeq: last.streamSeq,
        at: last.at,
        preview: JSON.stringify(preview),
      },
      dissolvedAt: r.dissolvedAt ?? 0,
      recalls: last?.recalled ? [last.seq] : [],
    });
    const membership = (uid: string, value: string) => {
      inner(plan.members, cid).set(uid, value);
      inner(plan.userConversations, uid).set(cid, value);
    };
    for (const [uid, m] of s.members) {
      membership(uid, encodeMembership({ version: m.version, joinSeq: m.joinSeq, leftSeq: null }));
    }
    for (const [uid, f] of r.left) {
      membership(uid, encodeMembership({ version: f.version, joinSeq: f.joinSeq, leftSeq: f.leftSeq }));
    }
    for (const [uid, seq] of r.own) inner(plan.own, uid).set(cid, seq);
    if (s.kind === 'group' && r.speakers.size > 0) {
      plan.speakers.set(cid, new Map(r.speakers));
      plan.active.set(cid, Math.max(...r.speakers.values()));
    }
  }
  for (const [uid, { state }] of seed.users) {
    for (const [cid, seq] of state.readSeqs) inner(plan.reads, uid).set(cid, seq);
  }
  return plan;
}
