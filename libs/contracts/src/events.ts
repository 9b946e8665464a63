import { z } from 'zod';
import { ErrorCode, ParleyError } from './errors';
import { ClientMsgId, ConversationId, UserId } from './ids';
import { encodeJson, decodeJson, parseWith, TOO_LARGE } from './json';
import {
  DEFAULT_LIMITS,
  type Limits,
  MAX_GROUP_NAME,
  MAX_MEMBERS_PER_COMMAND,
  MAX_MENTIONS,
  maxRawBytes,
} from './limits';

/** Kinds of message. */
export const MESSAGE_KINDS = ['text', 'image', 'file', 'custom', 'system'] as const;
/** One message kind. */
export type MessageKind = (typeof MESSAGE_KINDS)[number];
/** Schema of a message kind. */
export const MessageKindSchema = z.enum(MESSAGE_KINDS);

/** Schema of a message body limited to `maxBodyBytes` UTF-8 bytes (a violation is PAYLOAD_TOO_LARGE). */
export function bodySchema(limits: Limits) {
  return z.string().superRefine((body, ctx) => {
    const bytes = Buffer.byteLength(body, 'utf8');
    if (bytes > limits.maxBodyBytes) {
      ctx.addIssue({
        code: 'custom',
        message: `body is ${bytes} bytes, the limit is ${limits.maxBodyBytes}`,
        params: TOO_LARGE,
      });
    }
  });
}

const seq = z.number().int().nonnegative();
const members = z.array(UserId).max(MAX_MEMBERS_PER_COMMAND);
/**
 * The owner after a membership event, decided by the domain (DESIGN §11) so no reader re-derives it: the
 * successor's id ('' when nobody is left), or null when the event does not change the owner. Absent in
 * events written before it existed: readers apply the domain's succession rule themselves.
 */
const newOwner = z
  .union([UserId, z.literal('')])
  .nullable()
  .optional();

/** Every event type name. */
export const CONVERSATION_EVENT_TYPES = [
  'GroupCreated',
  'MembersJoined',
  'MemberLeft',
  'MessageSent',
  'MessageRecalled',
  'GroupDissolved',
] as const;
/** Every user event type name. */
export const USER_EVENT_TYPES = ['ReadMarked'] as const;

/** The event schemas for given limits (one schema per type, used by producers and consumers alike). */
export function eventSchemas(limits: Limits = DEFAULT_LIMITS) {
  // Envelope fields; unknown fields are stripped, never rejected, so old readers accept new writers.
  const conv = {
    v: z.literal(1),
    conversationId: ConversationId,
    at: z.number().int().nonnegative(),
    commandId: z.string().min(1).max(200),
  };
  const user = {
    v: z.literal(1),
    userId: UserId,
    at: z.number().int().nonnegative(),
    commandId: z.string().min(1).max(200),
  };
  const GroupCreated = z.object({
    ...conv,
    type: z.literal('GroupCreated'),
    data: z.object({ name: z.string().min(1).max(MAX_GROUP_NAME), owner: UserId, members }),
  });
  const MembersJoined = z.object({
    ...conv,
    type: z.literal('MembersJoined'),
    data: z.object({ userIds: members.min(1), by: UserId, joinSeq: seq, newOwner }),
  });
  const MemberLeft = z.object({
    ...conv,
    type: z.literal('MemberLeft'),
    data: z.object({
      userId: UserId,
      by: UserId,
      atSeq: seq,
      reason: z.enum(['left', 'removed']),
      newOwner,
    }),
  });
  const MessageSent = z.object({
    ...conv,
    type: z.literal('MessageSent'),
    data: z.object({
      seq: seq.min(1),
      from: UserId,
      clientMsgId: ClientMsgId,
      kind: MessageKindSchema,
      body: bodySchema(limits),
      mentions: z.array(UserId).max(MAX_MENTIONS),
    }),
  });
  const MessageRecalled = z.object({
    ...conv,
    type: z.literal('MessageRecalled'),
    data: z.object({ seq: seq.min(1), by: UserId }),
  });
  const GroupDissolved = z.object({
    ...conv,
    type: z.literal('GroupDissolved'),
    data: z.object({ by: UserId, atSeq: seq }),
  });
  const ReadMarked = z.object({
    ...user,
    type: z.literal('ReadMarked'),
    data: z.object({ conversationId: ConversationId, readSeq: seq }),
  });
  return {
    GroupCreated,
    MembersJoined,
    MemberLeft,
    MessageSent,
    MessageRecalled,
    GroupDissolved,
    ReadMarked,
  };
}

const defaultSchemas = eventSchemas();
type Schemas = typeof defaultSchemas;

/** GroupCreated: a group came to be with its owner and first members. */
export type GroupCreatedEvent = z.infer<Schemas['GroupCreated']>;
/** MembersJoined: users joined at `joinSeq` (they see history after it). */
export type MembersJoinedEvent = z.infer<Schemas['MembersJoined']>;
/** MemberLeft: a user left or was removed at `atSeq`. */
export type MemberLeftEvent = z.infer<Schemas['MemberLeft']>;
/** MessageSent: the message with conversation seq `seq`. */
export type MessageSentEvent = z.infer<Schemas['MessageSent']>;
/** MessageRecalled: message `seq` was recalled (history keeps a tombstone). */
export type MessageRecalledEvent = z.infer<Schemas['MessageRecalled']>;
/** GroupDissolved: the group ended at `atSeq`. */
export type GroupDissolvedEvent = z.infer<Schemas['GroupDissolved']>;
/** ReadMarked: a user read a conversation up to `readSeq`. */
export type ReadMarkedEvent = z.infer<Schemas['ReadMarked']>;

/** Any event on a conversation subject. */
export type ConversationEvent =
  | GroupCreatedEvent
  | MembersJoinedEvent
  | MemberLeftEvent
  | MessageSentEvent
  | MessageRecalledEvent
  | GroupDissolvedEvent;
/** Any event on a user subject. */
export type UserEvent = ReadMarkedEvent;
/** Any Parley event. */
export type ParleyEvent = ConversationEvent | UserEvent;
/** The name of an event type. */
export type ParleyEventType = ParleyEvent['type'];

/** Validates an already-parsed event; unknown `type`s are rejected loudly (INVALID_ARGUMENT). */
export function parseEvent(value: unknown, limits: Limits = DEFAULT_LIMITS): ParleyEvent {
  const schemas =
    limits === DEFAULT_LIMITS ? defaultSchemas : limits === READ_LIMITS ? readSchemas : eventSchemas(limits);
  const type = (value as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !Object.prototype.hasOwnProperty.call(schemas, type)) {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `unknown event type ${JSON.stringify(type)}`);
  }
  return parseWith(schemas[type as keyof Schemas], value, `${type} event`) as ParleyEvent;
}

/**
 * Limits for reading the log: a body limit is a rule for writers, and an event stored under a larger
 * limit than today's must still be readable, so readers only bound the raw size.
 */
export const READ_LIMITS: Limits = { maxBodyBytes: 8 * 1024 * 1024 };
const readSchemas = eventSchemas(READ_LIMITS);

/** Decodes and validates an event from its stored bytes (type, ids and shape; not the write-time body limit). */
export function decodeEvent(data: Uint8Array | string): ParleyEvent {
  return parseEvent(decodeJson(data, maxRawBytes(READ_LIMITS)), READ_LIMITS);
}

/** Validates and encodes an event for appending. */
export function encodeEvent(event: ParleyEvent, limits: Limits = DEFAULT_LIMITS): Uint8Array {
  return encodeJson(parseEvent(event, limits));
}

/** True for events stored on a conversation subject. */
export function isConversationEvent(e: ParleyEvent): e is ConversationEvent {
  return e.type !== 'ReadMarked';
}
