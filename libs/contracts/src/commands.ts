import { z } from 'zod';
import { ErrorCode, type ErrorCode as Code, ParleyError } from './errors';
import { bodySchema, MessageKindSchema } from './events';
import { ClientMsgId, ConversationId, parseConversationId, UserId } from './ids';
import { decodeJson, encodeJson, parseWith } from './json';
import {
  DEFAULT_LIMITS,
  type Limits,
  MAX_GROUP_NAME,
  MAX_MEMBERS_PER_COMMAND,
  MAX_MENTIONS,
  maxRawBytes,
} from './limits';
import { parseCommandSubject } from './subjects';

/** The request schemas of every command (DESIGN §5) for given limits. */
export function commandSchemas(limits: Limits = DEFAULT_LIMITS) {
  return {
    create: z.object({
      by: UserId,
      name: z.string().trim().min(1).max(MAX_GROUP_NAME),
      members: z.array(UserId).max(MAX_MEMBERS_PER_COMMAND),
    }),
    join: z.object({ by: UserId, userIds: z.array(UserId).min(1).max(MAX_MEMBERS_PER_COMMAND) }),
    leave: z.object({ by: UserId, userId: UserId }),
    dissolve: z.object({ by: UserId }),
    send: z.object({
      from: UserId,
      clientMsgId: ClientMsgId,
      kind: MessageKindSchema,
      body: bodySchema(limits),
      mentions: z.array(UserId).max(MAX_MENTIONS).optional(),
    }),
    recall: z.object({ by: UserId, seq: z.number().int().min(1) }),
    read: z.object({ conversationId: ConversationId, seq: z.number().int().min(0) }),
  };
}

type Schemas = ReturnType<typeof commandSchemas>;
/** `create` request: `{by, name, members[]}`. */
export type CreateGroupRequest = z.infer<Schemas['create']>;
/** `join` request: `{by, userIds[]}`. */
export type JoinGroupRequest = z.infer<Schemas['join']>;
/** `leave` request: `{by, userId}` (self-leave, or the owner removes). */
export type LeaveGroupRequest = z.infer<Schemas['leave']>;
/** `dissolve` request: `{by}`. */
export type DissolveGroupRequest = z.infer<Schemas['dissolve']>;
/** `send` request: `{from, clientMsgId, kind, body, mentions?}`. */
export type SendMessageRequest = z.infer<Schemas['send']>;
/** `recall` request: `{by, seq}`. */
export type RecallMessageRequest = z.infer<Schemas['recall']>;
/** user `read` request: `{conversationId, seq}`. */
export type MarkReadRequest = z.infer<Schemas['read']>;

/**
 * Every write's result says where it landed: the stream seq of the event it appended, or of the
 * subject's last event when it appended nothing (an idempotent no-op), for read-your-writes.
 */
export interface WriteResult {
  /** Position of the appended event, or of the subject's last event for a no-op (0: none yet). */
  streamSeq: number;
}
/** Result of `create`. */
export interface CreateGroupResult extends WriteResult {
  /** `g:<groupId>`. */
  conversationId: string;
}
/** Result of `join`: the users who were not members before. */
export interface JoinGroupResult extends WriteResult {
  /** Newly joined users. */
  joined: string[];
}
/** Result of `send`. */
export interface SendMessageResult extends WriteResult {
  /** The conversation. */
  conversationId: string;
  /** The message's conversation seq. */
  seq: number;
  /** When it was sent (epoch ms). */
  at: number;
  /** True when this (from, clientMsgId) was sent before: the original is answered. */
  duplicate: boolean;
}
/** Result of user `read`. */
export interface MarkReadResult extends WriteResult {
  /** The conversation. */
  conversationId: string;
  /** The effective read seq now. */
  readSeq: number;
  /** Unread messages now. */
  unread: number;
}
/** Result of `leave`, `dissolve`, `recall`: only where it landed. */
export type EmptyResult = WriteResult;

/** A command decoded from its subject and payload. */
export type DecodedCommand =
  | { target: 'conv'; conversationId: string; op: 'create'; request: CreateGroupRequest }
  | { target: 'conv'; conversationId: string; op: 'join'; request: JoinGroupRequest }
  | { target: 'conv'; conversationId: string; op: 'leave'; request: LeaveGroupRequest }
  | { target: 'conv'; conversationId: string; op: 'dissolve'; request: DissolveGroupRequest }
  | { target: 'conv'; conversationId: string; op: 'send'; request: SendMessageRequest }
  | { target: 'conv'; conversationId: string; op: 'recall'; request: RecallMessageRequest }
  | { target: 'user'; userId: string; op: 'read'; request: MarkReadRequest };

const GROUP_ONLY = new Set(['create', 'join', 'leave', 'dissolve']);
const cache = new Map<number, Schemas>();

/**
 * Decodes a command from its subject (`im.cmd.…` or `im.in.…`) and JSON payload. Throws ParleyError:
 * INVALID_ARGUMENT for a bad subject, unknown op, malformed JSON, missing fields or bad ids (naming the
 * field); PAYLOAD_TOO_LARGE for a body over the limit or a payload far beyond it (rejected unparsed).
 */
export function decodeCommand(
  subject: string,
  data: Uint8Array | string,
  limits: Limits = DEFAULT_LIMITS,
): DecodedCommand {
  const address = parseCommandSubject(subject);
  const raw = decodeJson(data, maxRawBytes(limits));
  let schemas = cache.get(limits.maxBodyBytes);
  if (!schemas) cache.set(limits.maxBodyBytes, (schemas = commandSchemas(limits)));
  if (address.target === 'user') {
    return {
      target: 'user',
      userId: address.id,
      op: 'read',
      request: parseWith(schemas.read, raw, 'read request'),
    };
  }
  if (GROUP_ONLY.has(address.op) && parseConversationId(address.id).kind !== 'group') {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `${address.op} applies to groups only`);
  }
  const request = parseWith(schemas[address.op], raw, `${address.op} request`);
  return { target: 'conv', conversationId: address.id, op: address.op, request } as DecodedCommand;
}

/** A successful reply. */
export interface OkReply<T = unknown> {
  /** Always true. */
  ok: true;
  /** The command's result. */
  result: T;
}
/** A failed reply. */
export interface ErrorReply {
  /** Always false. */
  ok: false;
  /** What went wrong. */
  error: { code: Code; message: string };
}
/** Every command's reply: `{ok:true,result}` or `{ok:false,error:{code,message}}`. */
export type Reply<T = unknown> = OkReply<T> | ErrorReply;

/** A successful reply. */
export function okReply<T>(result: T): OkReply<T> {
  return { ok: true, result };
}
/** A failed reply. */
export function errorReply(code: Code, message: string): ErrorReply {
  return { ok: false, error: { code, message } };
}
/** Encodes a reply. */
export function encodeReply(reply: Reply): Uint8Array {
  return encodeJson(reply);
}

const ReplySchema = z.union([
  z.object({ ok: z.literal(true), result: z.unknown() }),
  z.object({ ok: z.literal(false), error: z.object({ code: z.nativeEnum(ErrorCode), message: z.string() }) }),
]);
/** Decodes a reply (for clients of Parley). */
export function decodeReply<T = unknown>(data: Uint8Array | string): Reply<T> {
  return parseWith(ReplySchema, decodeJson(data), 'reply') as Reply<T>;
}
