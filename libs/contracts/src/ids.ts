import { z } from 'zod';
import { ErrorCode, ParleyError } from './errors';

/** userId and groupId: 1–64 of A–Z, a–z, 0–9, `_`, `-` (so never `.`, `*`, `>`, `:` or whitespace). */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** clientMsgId: 1–128 of A–Z, a–z, 0–9, `_`, `.`, `:`, `-`. */
export const CLIENT_MSG_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Schema of a user id. */
export const UserId = z.string().regex(ID_PATTERN, 'must match ^[A-Za-z0-9_-]{1,64}$');
/** Schema of a group id. */
export const GroupId = UserId;
/** Schema of a client message id. */
export const ClientMsgId = z.string().regex(CLIENT_MSG_ID_PATTERN, 'must match ^[A-Za-z0-9_.:-]{1,128}$');

/** A parsed conversation id. */
export type ParsedConversationId =
  { kind: 'group'; groupId: string } | { kind: 'direct'; users: [string, string] };

/** True when `id` is a valid user or group id. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && ID_PATTERN.test(id);
}

/** Parses `g:<groupId>` or `d:<userA>:<userB>` (userA < userB); throws INVALID_ARGUMENT otherwise. */
export function parseConversationId(cid: string): ParsedConversationId {
  const parts = typeof cid === 'string' ? cid.split(':') : [];
  if (parts[0] === 'g' && parts.length === 2 && isValidId(parts[1]))
    return { kind: 'group', groupId: parts[1] };
  if (parts[0] === 'd' && parts.length === 3 && isValidId(parts[1]) && isValidId(parts[2])) {
    if (parts[1] < parts[2]) return { kind: 'direct', users: [parts[1], parts[2]] };
    throw new ParleyError(
      ErrorCode.INVALID_ARGUMENT,
      `direct conversation ${cid} must name two different users in order`,
    );
  }
  throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `invalid conversation id ${JSON.stringify(cid)}`);
}

/** True when `cid` is a well-formed conversation id. */
export function isValidConversationId(cid: unknown): cid is string {
  try {
    parseConversationId(cid as string);
    return true;
  } catch {
    return false;
  }
}

/** Schema of a conversation id. */
export const ConversationId = z
  .string()
  .refine(isValidConversationId, 'must be g:<groupId> or d:<userA>:<userB> with userA < userB');

/** The conversation id of a group. */
export function groupConversationId(groupId: string): string {
  if (!isValidId(groupId))
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `invalid group id ${JSON.stringify(groupId)}`);
  return `g:${groupId}`;
}

/** The conversation id of the direct chat between two users (order does not matter). */
export function directConversationId(userX: string, userY: string): string {
  if (!isValidId(userX) || !isValidId(userY) || userX === userY) {
    throw new ParleyError(
      ErrorCode.INVALID_ARGUMENT,
      'a direct conversation needs two different valid user ids',
    );
  }
  return userX < userY ? `d:${userX}:${userY}` : `d:${userY}:${userX}`;
}
