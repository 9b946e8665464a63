import {
  type ConversationEvent,
  ErrorCode,
  type MessageKind,
  parseConversationId,
  ParleyError,
} from '@parley/contracts';
import { type CommandMeta, type Decision, type EventPosition } from '../decision';
import { type ConversationState, type SentRef } from './conversation.state';
import { MessageWindow } from './message-window';

/** Commands a conversation actor decides (imperative; events are their past tense). */
export type ConversationCommand =
  | { type: 'CreateGroup'; by: string; name: string; members: string[] }
  | { type: 'JoinGroup'; by: string; userIds: string[] }
  | { type: 'LeaveGroup'; by: string; userId: string }
  | { type: 'DissolveGroup'; by: string }
  | {
      type: 'SendMessage';
      from: string;
      clientMsgId: string;
      kind: MessageKind;
      body: string;
      mentions: string[];
    }
  | { type: 'RecallMessage'; by: string; seq: number };

/** The rules a conversation decides by; the host fills them from configuration. */
export interface ConversationRules {
  /** Largest message body in UTF-8 bytes. */
  maxBodyBytes: number;
  /** How long a `(from, clientMsgId)` is remembered for dedup, in ms of event time. */
  dedupWindowMs: number;
  /** Most remembered sends per conversation (oldest forgotten first). */
  maxDedupEntries: number;
  /** How long after sending a message can be recalled, in ms. */
  recallWindowMs: number;
  /** Most recent messages remembered for recall (older ones are past the window whatever their age). */
  maxRecallEntries: number;
}

/** Defaults: 16 KiB bodies, dedup for 24 h or 100,000 sends, recall for 24 h or the last 100,000 messages. */
export const DEFAULT_CONVERSATION_RULES: ConversationRules = {
  maxBodyBytes: 16 * 1024,
  dedupWindowMs: 24 * 3600 * 1000,
  maxDedupEntries: 100_000,
  recallWindowMs: 24 * 3600 * 1000,
  maxRecallEntries: 100_000,
};

/** Decision of a conversation: the event to append, nothing, or the original of a duplicate send. */
export type ConversationDecision = Decision<ConversationEvent, SentRef>;

const fail = (code: ErrorCode, message: string): never => {
  throw new ParleyError(code, message);
};

/** The state of a conversation with no events yet. */
export function initialConversationState(conversationId: string): ConversationState {
  const parsed = parseConversationId(conversationId);
  return {
    conversationId,
    kind: parsed.kind,
    exists: false,
    name: '',
    owner: '',
    members:
      parsed.kind === 'direct'
        ? new Map(
            parsed.users.map((u) => [
              u,
              { joinSeq: 0, role: 'member' as const, ownLastSeq: 0, joinedAt: 0, version: 0 },
            ]),
          )
        : new Map(),
    lastSeq: 0,
    dissolved: false,
    window: new MessageWindow(),
    record: {
      createdAt: null,
      activeAt: 0,
      dissolvedAt: null,
      ownerVersion: 0,
      last: null,
      left: new Map(),
      speakers: new Map(),
      own: new Map(),
    },
  };
}

/**
 * Decides one command against the current state: returns the one event to append, `none` when the
 * command is already satisfied (idempotent join, second recall), or the original of a duplicate send;
 * throws ParleyError with a stable code when the command is refused. Pure: no I/O, no clock.
 */
export function decideConversation(
  state: ConversationState,
  command: ConversationCommand,
  meta: CommandMeta,
  rules: ConversationRules = DEFAULT_CONVERSATION_RULES,
): ConversationDecision {
  const envelope = {
    v: 1 as const,
    conversationId: state.conversationId,
    at: meta.now,
    commandId: meta.commandId,
  };
  const isGroup = state.kind === 'group';
  if (command.type !== 'SendMessage' && command.type !== 'RecallMessage' && !isGroup) {
    fail(ErrorCode.INVALID_ARGUMENT, `${command.type} applies to groups only`);
  }
  if (command.type === 'CreateGroup') {
    if (state.exists) fail(ErrorCode.ALREADY_EXISTS, `${state.conversationId} already exists`);
    const members = unique([command.by, ...command.members]);
    return {
      type: 'append',
      event: { ...envelope, type: 'GroupCreated', data: { name: command.name, owner: command.by, members } },
    };
  }
  if (!state.exists && !(command.type === 'SendMessage' && !isGroup)) {
    fail(ErrorCode.NOT_FOUND, `${state.conversationId} does not exist`);
  }
  if (state.dissolved) fail(ErrorCode.GONE, `${state.conversationId} was dissolved`);

  switch (command.type) {
    case 'JoinGroup': {
      const self = command.userIds.length === 1 && command.userIds[0] === command.by;
      if (!self && !state.members.has(command.by)) {
        fail(ErrorCode.FORBIDDEN, `${command.by} is not a member and may only add themself`);
      }
      const joining = unique(command.userIds).filter((u) => !state.members.has(u));
      if (joining.length === 0) return { type: 'none' };
      // A group whose members all left has no owner: the longest-standing member after the join takes it.
      const joinedAs = { joinSeq: state.lastSeq };
      const newOwner = state.owner
        ? null
        : successorOf([...state.members, ...joining.map((u) => [u, joinedAs] as const)]);
      return {
        type: 'append',
        event: {
          ...envelope,
          type: 'MembersJoined',
          data: { userIds: joining, by: command.by, joinSeq: state.lastSeq, newOwner },
        },
      };
    }
    case 'LeaveGroup': {
      if (!state.members.has(command.userId)) fail(ErrorCode.NOT_FOUND, `${command.userId} is not a member`);
      const self = command.userId === command.by;
      if (!self && state.owner !== command.by)
        fail(ErrorCode.FORBIDDEN, 'only the owner removes other members');
      return {
        type: 'append',
        event: {
          ...envelope,
          type: 'MemberLeft',
          data: {
            userId: command.userId,
            by: command.by,
            atSeq: state.lastSeq,
            reason: self ? 'left' : 'removed',
            newOwner:
              state.owner === command.userId
                ? successorOf([...state.members].filter(([u]) => u !== command.userId))
                : null,
          },
        },
      };
    }
    case 'DissolveGroup': {
      if (state.owner !== command.by) fail(ErrorCode.FORBIDDEN, 'only the owner dissolves the group');
      return {
        type: 'append',
        event: { ...envelope, type: 'GroupDissolved', data: { by: command.by, atSeq: state.lastSeq } },
      };
    }
    case 'SendMessage': {
      const original = state.window.original(command.from, command.clientMsgId);
      if (original) return { type: 'duplicate', original };
      if (!state.members.has(command.from)) fail(ErrorCode.FORBIDDEN, `${command.from} is not a member`);
      const bytes = Buffer.byteLength(command.body, 'utf8');
      if (bytes > rules.maxBodyBytes) {
        fail(ErrorCode.PAYLOAD_TOO_LARGE, `body is ${bytes} bytes, the limit is ${rules.maxBodyBytes}`);
      }
      const mentions = unique(command.mentions);
      const strangers = mentions.filter((u) => !state.members.has(u));
      if (strangers.length > 0)
        fail(ErrorCode.INVALID_ARGUMENT, `mentions of non-members: ${strangers.join(', ')}`);
      return {
        type: 'append',
        event: {
          ...envelope,
          type: 'MessageSent',
          data: {
            seq: state.lastSeq + 1,
            from: command.from,
            clientMsgId: command.clientMsgId,
            kind: command.kind,
            body: command.body,
            mentions,
          },
        },
      };
    }
    case 'RecallMessage': {
      if (!Number.isInteger(command.seq) || command.seq < 1 || command.seq > state.lastSeq) {
        fail(ErrorCode.NOT_FOUND, `no message ${command.seq}`);
      }
      const message = state.window.recallable(command.seq);
      const owner = isGroup && state.owner === command.by;
      if (!message) fail(ErrorCode.FORBIDDEN, `message ${command.seq} is past the recall window`);
      if (message!.from !== command.by && !owner)
        fail(ErrorCode.FORBIDDEN, 'only the sender or the owner recalls');
      if (meta.now - message!.at > rules.recallWindowMs) {
        fail(ErrorCode.FORBIDDEN, `message ${command.seq} is past the recall window`);
      }
      if (message!.recalled) return { type: 'none' };
      return {
        type: 'append',
        event: { ...envelope, type: 'MessageRecalled', data: { seq: command.seq, by: command.by } },
      };
    }
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

/**
 * Folds one event into the state. For speed on long subjects it updates the state it is given and
 * returns it: callers hand over the state and keep only the result (decide never mutates).
 */
export function evolveConversation(
  state: ConversationState,
  event: ConversationEvent,
  position: EventPosition,
  rules: ConversationRules = DEFAULT_CONVERSATION_RULES,
): ConversationState {
  const record = state.record;
  const { streamSeq } = position;
  switch (event.type) {
    case 'GroupCreated':
      state.exists = true;
      state.name = event.data.name;
      state.owner = event.data.owner;
      state.members = new Map(
        event.data.members.map((u) => [
          u,
          {
            joinSeq: 0,
            role: u === event.data.owner ? 'owner' : 'member',
            ownLastSeq: 0,
            joinedAt: event.at,
            version: streamSeq,
          },
        ]),
      );
      for (const u of event.data.members) record.left.delete(u);
      record.createdAt = Math.min(record.createdAt ?? event.at, event.at);
      record.activeAt = Math.max(record.activeAt, event.at);
      record.ownerVersion = streamSeq;
      return state;
    case 'MembersJoined':
      for (const u of event.data.userIds) {
        state.members.set(u, {
          joinSeq: event.data.joinSeq,
          role: 'member',
          ownLastSeq: 0,
          joinedAt: event.at,
          version: streamSeq,
        });
        record.left.delete(u);
      }
      if (event.data.newOwner != null) setOwner(state, event.data.newOwner, streamSeq);
      else if (event.data.newOwner === undefined && !state.owner) {
        setOwner(state, successorOf(state.members), streamSeq); // written before events named the owner
      }
      return state;
    case 'MemberLeft': {
      const member = state.members.get(event.data.userId);
      record.left.set(event.data.userId, {
        joinSeq: member?.joinSeq ?? 0,
        leftSeq: event.data.atSeq,
        joinedAt: member?.joinedAt ?? 0,
        version: streamSeq,
      });
      state.members.delete(event.data.userId);
      if (event.data.newOwner != null) setOwner(state, event.data.newOwner, streamSeq);
      else if (event.data.newOwner === undefined && state.owner === event.data.userId) {
        setOwner(state, successorOf(state.members), streamSeq); // written before events named the owner
      }
      return state;
    }
    case 'GroupDissolved':
      state.dissolved = true;
      record.dissolvedAt ??= event.at;
      return state;
    case 'MessageSent': {
      const { seq, from, clientMsgId } = event.data;
      state.exists = true;
      state.lastSeq = seq;
      const member = state.members.get(from);
      if (member) member.ownLastSeq = seq;
      state.window.push({ seq, from, clientMsgId, streamSeq, at: event.at }, rules);
      record.createdAt = Math.min(record.createdAt ?? event.at, event.at);
      record.activeAt = Math.max(record.activeAt, event.at);
      const { kind, body, mentions } = event.data;
      record.last = { seq, streamSeq, from, kind, body, mentions, at: event.at, recalled: false };
      if (state.kind === 'group') {
        record.speakers.set(from, Math.max(record.speakers.get(from) ?? 0, event.at));
      }
      record.own.set(from, Math.max(record.own.get(from) ?? 0, seq));
      return state;
    }
    case 'MessageRecalled': {
      state.window.markRecalled(event.data.seq);
      if (record.last?.seq === event.data.seq) record.last.recalled = true;
      return state;
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

/**
 * Owner succession (DESIGN §11), the one home of the rule: the longest-standing member (lowest joinSeq,
 * then id) takes over; '' when nobody is left. The decider records its answer in the event (`newOwner`);
 * readers call it only for events written before that.
 */
export function successorOf(members: Iterable<readonly [string, { joinSeq: number }]>): string {
  let next: string | undefined;
  let best = Infinity;
  for (const [u, m] of members) {
    if (next === undefined || m.joinSeq < best || (m.joinSeq === best && u < next))
      [next, best] = [u, m.joinSeq];
  }
  return next ?? '';
}

function setOwner(state: ConversationState, owner: string, streamSeq: number): void {
  state.owner = owner;
  const member = state.members.get(owner);
  if (member) member.role = 'owner';
  state.record.ownerVersion = streamSeq;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
