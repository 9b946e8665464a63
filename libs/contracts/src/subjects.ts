import { ErrorCode, ParleyError } from './errors';
import { isValidConversationId, isValidId } from './ids';

/** The stream holding every event. */
export const IM_EVENTS_STREAM = 'IM_EVENTS';
/** The work-queue stream for durable commands. */
export const IM_INGRESS_STREAM = 'IM_INGRESS';
/** Every event subject. */
export const EVENT_SUBJECTS = 'im.evt.>';
/** Every conversation event subject. */
export const CONVERSATION_EVENT_SUBJECTS = 'im.evt.conv.>';
/** Every user event subject. */
export const USER_EVENT_SUBJECTS = 'im.evt.user.>';
/** Every request/reply command subject. */
export const COMMAND_SUBJECTS = 'im.cmd.>';
/** Every durable (ingress) command subject. */
export const INGRESS_SUBJECTS = 'im.in.>';
/** Queue group of the actor hosts. */
export const ACTOR_QUEUE_GROUP = 'im-actors';
/** Header naming where an ingress command's reply goes. */
export const IM_REPLY_TO_HEADER = 'Im-Reply-To';
/**
 * Header on an ingress reply naming the command it answers: the `Nats-Msg-Id` it was published with,
 * or `ingress:<stream seq>` when it had none. Replies to one Im-Reply-To subject can arrive in any order.
 */
export const IM_COMMAND_ID_HEADER = 'Im-Command-Id';

/** Operations on a conversation. */
export const CONVERSATION_OPS = ['create', 'join', 'leave', 'dissolve', 'send', 'recall'] as const;
/** One conversation operation. */
export type ConversationOp = (typeof CONVERSATION_OPS)[number];
/** Operations on a user. */
export const USER_OPS = ['read'] as const;
/** One user operation. */
export type UserOp = (typeof USER_OPS)[number];

function checkConversation(cid: string): string {
  if (!isValidConversationId(cid))
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `invalid conversation id ${JSON.stringify(cid)}`);
  return cid;
}
function checkUser(uid: string): string {
  if (!isValidId(uid))
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `invalid user id ${JSON.stringify(uid)}`);
  return uid;
}

/** `im.evt.conv.<cid>`: the conversation's events, written only by its actor. */
export function conversationEventSubject(cid: string): string {
  return `im.evt.conv.${checkConversation(cid)}`;
}
/** `im.evt.user.<uid>`: the user's events, written only by its actor. */
export function userEventSubject(uid: string): string {
  return `im.evt.user.${checkUser(uid)}`;
}
/** Whose events an event subject holds. */
export type EventSubjectOwner = { kind: 'conv'; id: string } | { kind: 'user'; id: string };

/** Parses `im.evt.conv.<cid>` or `im.evt.user.<uid>`; undefined for anything else. */
export function parseEventSubject(subject: string): EventSubjectOwner | undefined {
  const conv = 'im.evt.conv.';
  const user = 'im.evt.user.';
  if (subject.startsWith(conv)) {
    const id = subject.slice(conv.length);
    return isValidConversationId(id) ? { kind: 'conv', id } : undefined;
  }
  if (subject.startsWith(user)) {
    const id = subject.slice(user.length);
    return isValidId(id) ? { kind: 'user', id } : undefined;
  }
  return undefined;
}

/**
 * `im.sig.conv.<cid>`: online-only signals (typing…) of a conversation, on core NATS: pushed to the
 * members online at that moment, never stored.
 */
export function conversationSignalSubject(cid: string): string {
  return `im.sig.conv.${checkConversation(cid)}`;
}
/**
 * Core NATS subject every actor host answers (no queue group) with its live actor counts, so a
 * scatter-gather request sums them across hosts.
 */
export const ACTOR_STATS_SUBJECT = 'im.sys.actors.stats';
/** Prefix of the partition subjects: `im.part.<n>.<command tail>`, subscribed only by the partition's owner. */
export const PARTITION_SUBJECT_PREFIX = 'im.part';
/**
 * `im.part.<n>.<tail>`: a command forwarded to the actor host owning partition `n`; `tail` is the
 * command subject after `im.cmd.` / `im.in.` (e.g. `conv.g:team.send`).
 */
export function partitionCommandSubject(partition: number, tail: string): string {
  return `${PARTITION_SUBJECT_PREFIX}.${partition}.${tail}`;
}
/** Every subject of partition `n` (`im.part.<n>.>`). */
export function partitionSubjects(partition: number): string {
  return `${PARTITION_SUBJECT_PREFIX}.${partition}.>`;
}
/**
 * The command tail (`conv.g:team.send`) of a command subject (`im.cmd.…`, `im.in.…`) or of a partition
 * subject (`im.part.<n>.…`).
 */
export function commandTail(subject: string): string {
  const skip = subject.startsWith(`${PARTITION_SUBJECT_PREFIX}.`) ? 3 : 2;
  return subject.split('.').slice(skip).join('.');
}
/** `im.cmd.<tail>`: the request/reply subject of a command tail (a forwarded command decodes as one). */
export function commandSubjectOfTail(tail: string): string {
  return `im.cmd.${tail}`;
}
/** `im.evt.<tail>`: the event subject of a tail such as `conv.g:team` (snapshot keys name subjects so). */
export function eventSubjectOfTail(tail: string): string {
  return `im.evt.${tail}`;
}
/** `im.sys.leases.<bucket>.<hostId>`: core NATS subject that wakes a host's partition lease loop. */
export function leasePokeSubject(bucket: string, hostId: string): string {
  return `im.sys.leases.${bucket}.${hostId}`;
}
/** `im.cmd.conv.<cid>.<op>`: request/reply command to a conversation. */
export function conversationCommandSubject(cid: string, op: ConversationOp): string {
  return `im.cmd.conv.${checkConversation(cid)}.${op}`;
}
/** `im.cmd.user.<uid>.<op>`: request/reply command to a user. */
export function userCommandSubject(uid: string, op: UserOp): string {
  return `im.cmd.user.${checkUser(uid)}.${op}`;
}
/** `im.in.conv.<cid>.<op>`: durable command to a conversation through IM_INGRESS. */
export function conversationIngressSubject(cid: string, op: ConversationOp): string {
  return `im.in.conv.${checkConversation(cid)}.${op}`;
}
/** `im.in.user.<uid>.<op>`: durable command to a user through IM_INGRESS. */
export function userIngressSubject(uid: string, op: UserOp): string {
  return `im.in.user.${checkUser(uid)}.${op}`;
}

/** A parsed command subject. */
export type CommandAddress =
  | { channel: 'cmd' | 'in'; target: 'conv'; id: string; op: ConversationOp }
  | { channel: 'cmd' | 'in'; target: 'user'; id: string; op: UserOp };

/** Parses `im.cmd.…` or `im.in.…` into its target, id and op; throws INVALID_ARGUMENT otherwise. */
export function parseCommandSubject(subject: string): CommandAddress {
  const t = subject.split('.');
  const channel = t[1];
  if (t.length !== 5 || t[0] !== 'im' || (channel !== 'cmd' && channel !== 'in')) {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `not a command subject: ${subject}`);
  }
  const [, , target, id, op] = t;
  if (target === 'conv') {
    checkConversation(id);
    if (!(CONVERSATION_OPS as readonly string[]).includes(op)) {
      throw new ParleyError(
        ErrorCode.INVALID_ARGUMENT,
        `unknown conversation operation ${JSON.stringify(op)}`,
      );
    }
    return { channel, target, id, op: op as ConversationOp };
  }
  if (target === 'user') {
    checkUser(id);
    if (!(USER_OPS as readonly string[]).includes(op)) {
      throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `unknown user operation ${JSON.stringify(op)}`);
    }
    return { channel, target, id, op: op as UserOp };
  }
  throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `unknown command target ${JSON.stringify(target)}`);
}
