import { type MessageKind, MESSAGE_KINDS } from '@parley/contracts';
import { initialConversationState } from './conversation/conversation.decider';
import {
  type ConversationState,
  type FormerMember,
  type LastMessage,
  type Member,
} from './conversation/conversation.state';
import { MessageWindow, type MessageWindowJson } from './conversation/message-window';
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
  /** The latest messages (dedup and recall), in columns. */
  window: MessageWindowJson;
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
    window: s.window.toJSON(),
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
  state.window = messageWindow(j.window);
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

function messageWindow(x: unknown): MessageWindow {
  const w = obj(x, 'window');
  const ints = (k: string) => arr(w[k], `window.${k}`).map((n) => num(n, `window.${k}`));
  const strs = (k: string) => arr(w[k], `window.${k}`).map((v) => str(v, `window.${k}`));
  try {
    return MessageWindow.fromJSON({
      first: int(w.first, 'window.first'),
      dedupFrom: int(w.dedupFrom, 'window.dedupFrom'),
      recallFrom: int(w.recallFrom, 'window.recallFrom'),
      senders: strs('senders'),
      from: ints('from'),
      clientMsgIds: strs('clientMsgIds'),
      at: ints('at'),
      streamSeq: ints('streamSeq'),
      recalled: ints('recalled'),
    });
  } catch (err) {
    throw new SnapshotFormatError(`window: ${(err as Error).message}`);
  }
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
/** Any safe integer (window deltas may be negative when clocks of two hosts disagree). */
function num(x: unknown, what: string): number {
  if (!Number.isSafeInteger(x)) throw new SnapshotFormatError(`${what}: not an integer`);
  return x as number;
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
