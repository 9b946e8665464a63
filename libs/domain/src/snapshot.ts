import { type MessageKind, MESSAGE_KINDS } from '@parley/contracts';
import { initialConversationState } from './conversation/conversation.decider';
import {
  type ConversationState,
  type FormerMember,
  type LastMessage,
  type Member,
  type RecentMessage,
  type SentRef,
  sentKey,
} from './conversation/conversation.state';
import { initialUserState, type UserState } from './user/user.decider';

/**
 * Snapshots of folded actor state (DESIGN §15): plain JSON, versioned, compact (tuples instead of
 * objects: a conversation keeps up to 100,000 dedup entries). `restore*` validates everything and throws
 * {@link SnapshotFormatError} on any mismatch, so a damaged snapshot is never folded into an actor.
 * An older version is upgraded here, never ignored: with log retention it may be the only copy.
 */

/** Current version of a conversation snapshot's state. */
export const CONVERSATION_SNAPSHOT_VERSION = 1;
/** Current version of a user snapshot's state. */
export const USER_SNAPSHOT_VERSION = 1;

/** A snapshot's state does not have the shape its version promises. */
export class SnapshotFormatError extends Error {
  override readonly name = 'SnapshotFormatError';
}

type MemberTuple = [string, number, Member['role'], number, number, number];
type RecentTuple = [number, string, number, 0 | 1];
type SentTuple = [string, string, number, number, number];
type FormerTuple = [string, number, number, number, number];

/** The JSON form of a conversation's state (version 1). */
export interface ConversationSnapshotV1 {
  exists: boolean;
  name: string;
  owner: string;
  lastSeq: number;
  dissolved: boolean;
  /** `[userId, joinSeq, role, ownLastSeq, joinedAt, version]`. */
  members: MemberTuple[];
  /** `[seq, from, at, recalled]`, oldest first. */
  recent: RecentTuple[];
  /** `[from, clientMsgId, seq, streamSeq, at]`, oldest first. */
  sent: SentTuple[];
  record: {
    createdAt: number | null;
    activeAt: number;
    dissolvedAt: number | null;
    ownerVersion: number;
    last: LastMessage | null;
    /** `[userId, joinSeq, leftSeq, joinedAt, version]`. */
    left: FormerTuple[];
    speakers: Array<[string, number]>;
    own: Array<[string, number]>;
  };
}

/** The JSON form of a user's state (version 1). */
export interface UserSnapshotV1 {
  /** `[conversationId, readSeq]`. */
  readSeqs: Array<[string, number]>;
}

/** A conversation's state as snapshot JSON (current version). */
export function snapshotConversation(s: ConversationState): ConversationSnapshotV1 {
  const r = s.record;
  return {
    exists: s.exists,
    name: s.name,
    owner: s.owner,
    lastSeq: s.lastSeq,
    dissolved: s.dissolved,
    members: [...s.members].map(([u, m]) => [u, m.joinSeq, m.role, m.ownLastSeq, m.joinedAt, m.version]),
    recent: [...s.recent].map(([seq, m]) => [seq, m.from, m.at, m.recalled ? 1 : 0]),
    sent: [...s.sent].map(([key, ref]) => {
      const cut = key.indexOf('\u0000');
      return [key.slice(0, cut), key.slice(cut + 1), ref.seq, ref.streamSeq, ref.at];
    }),
    record: {
      createdAt: r.createdAt,
      activeAt: r.activeAt,
      dissolvedAt: r.dissolvedAt,
      ownerVersion: r.ownerVersion,
      last: r.last && { ...r.last, mentions: [...r.last.mentions] },
      left: [...r.left].map(([u, f]) => [u, f.joinSeq, f.leftSeq, f.joinedAt, f.version]),
      speakers: [...r.speakers],
      own: [...r.own],
    },
  };
}

/** Rebuilds a conversation's state from snapshot JSON of version `v`; throws SnapshotFormatError. */
export function restoreConversation(conversationId: string, v: number, json: unknown): ConversationState {
  if (v !== 1) throw new SnapshotFormatError(`conversation snapshot version ${v} is unknown`);
  const j = obj(json, 'state');
  const state = initialConversationState(conversationId);
  state.exists = bool(j.exists, 'exists');
  state.name = str(j.name, 'name');
  state.owner = str(j.owner, 'owner');
  state.lastSeq = int(j.lastSeq, 'lastSeq');
  state.dissolved = bool(j.dissolved, 'dissolved');
  state.members = new Map(
    arr(j.members, 'members').map((t, i) => {
      const [u, joinSeq, role, own, joinedAt, version] = tuple(t, 6, `members[${i}]`);
      if (role !== 'owner' && role !== 'member') throw new SnapshotFormatError(`members[${i}]: bad role`);
      const m: Member = {
        joinSeq: int(joinSeq, 'joinSeq'),
        role,
        ownLastSeq: int(own, 'ownLastSeq'),
        joinedAt: int(joinedAt, 'joinedAt'),
        version: int(version, 'version'),
      };
      return [str(u, 'member'), m];
    }),
  );
  state.recent = new Map(
    arr(j.recent, 'recent').map((t, i) => {
      const [seq, from, at, recalled] = tuple(t, 4, `recent[${i}]`);
      const m: RecentMessage = { from: str(from, 'from'), at: int(at, 'at'), recalled: recalled === 1 };
      return [int(seq, 'seq'), m];
    }),
  );
  state.sent = new Map(
    arr(j.sent, 'sent').map((t, i) => {
      const [from, clientMsgId, seq, streamSeq, at] = tuple(t, 5, `sent[${i}]`);
      const ref: SentRef = {
        seq: int(seq, 'seq'),
        streamSeq: int(streamSeq, 'streamSeq'),
        at: int(at, 'at'),
      };
      return [sentKey(str(from, 'from'), str(clientMsgId, 'clientMsgId')), ref];
    }),
  );
  const r = obj(j.record, 'record');
  state.record = {
    createdAt: r.createdAt === null ? null : int(r.createdAt, 'createdAt'),
    activeAt: int(r.activeAt, 'activeAt'),
    dissolvedAt: r.dissolvedAt === null ? null : int(r.dissolvedAt, 'dissolvedAt'),
    ownerVersion: int(r.ownerVersion, 'ownerVersion'),
    last: r.last === null ? null : lastMessage(r.last),
    left: new Map(
      arr(r.left, 'left').map((t, i) => {
        const [u, joinSeq, leftSeq, joinedAt, version] = tuple(t, 5, `left[${i}]`);
        const f: FormerMember = {
          joinSeq: int(joinSeq, 'joinSeq'),
          leftSeq: int(leftSeq, 'leftSeq'),
          joinedAt: int(joinedAt, 'joinedAt'),
          version: int(version, 'version'),
        };
        return [str(u, 'left'), f];
      }),
    ),
    speakers: pairs(r.speakers, 'speakers'),
    own: pairs(r.own, 'own'),
  };
  return state;
}

/** A user's state as snapshot JSON (current version). */
export function snapshotUser(s: UserState): UserSnapshotV1 {
  return { readSeqs: [...s.readSeqs] };
}

/** Rebuilds a user's state from snapshot JSON of version `v`; throws SnapshotFormatError. */
export function restoreUser(userId: string, v: number, json: unknown): UserState {
  if (v !== 1) throw new SnapshotFormatError(`user snapshot version ${v} is unknown`);
  const state = initialUserState(userId);
  state.readSeqs = pairs(obj(json, 'state').readSeqs, 'readSeqs');
  return state;
}

function lastMessage(x: unknown): LastMessage {
  const m = obj(x, 'last');
  const kind = str(m.kind, 'last.kind') as MessageKind;
  if (!(MESSAGE_KINDS as readonly string[]).includes(kind))
    throw new SnapshotFormatError(`last.kind ${kind} is unknown`);
  return {
    seq: int(m.seq, 'last.seq'),
    streamSeq: int(m.streamSeq, 'last.streamSeq'),
    from: str(m.from, 'last.from'),
    kind,
    body: str(m.body, 'last.body'),
    mentions: arr(m.mentions, 'last.mentions').map((u) => str(u, 'last.mentions')),
    at: int(m.at, 'last.at'),
    recalled: bool(m.recalled, 'last.recalled'),
  };
}

function pairs(x: unknown, what: string): Map<string, number> {
  return new Map(
    arr(x, what).map((t, i) => {
      const [k, n] = tuple(t, 2, `${what}[${i}]`);
      return [str(k, what), int(n, what)];
    }),
  );
}

// Hand-written checks: a snapshot can hold hundreds of thousands of tuples, and activation is on a
// sender's critical path.
function obj(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x))
    throw new SnapshotFormatError(`${what}: not an object`);
  return x as Record<string, unknown>;
}
function arr(x: unknown, what: string): unknown[] {
  if (!Array.isArray(x)) throw new SnapshotFormatError(`${what}: not an array`);
  return x;
}
function tuple(x: unknown, n: number, what: string): unknown[] {
  if (!Array.isArray(x) || x.length !== n) throw new SnapshotFormatError(`${what}: not a ${n}-tuple`);
  return x;
}
function str(x: unknown, what: string): string {
  if (typeof x !== 'string') throw new SnapshotFormatError(`${what}: not a string`);
  return x;
}
function int(x: unknown, what: string): number {
  if (!Number.isSafeInteger(x) || (x as number) < 0) throw new SnapshotFormatError(`${what}: not a count`);
  return x as number;
}
function bool(x: unknown, what: string): boolean {
  if (typeof x !== 'boolean') throw new SnapshotFormatError(`${what}: not a boolean`);
  return x;
}
