import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ClientMsgId,
  GroupId,
  MAX_GROUP_NAME,
  MAX_MEMBERS_PER_COMMAND,
  MAX_MENTIONS,
  MESSAGE_KINDS,
  type MessageKind,
  UserId,
} from '@parley/contracts';
import { z } from 'zod';

// Request schemas (zod validates; the classes below document the same shapes in OpenAPI).

/** `POST /v1/groups`. */
export const CreateGroupBody = z.object({
  groupId: GroupId.optional(),
  name: z.string().trim().min(1).max(MAX_GROUP_NAME),
  members: z.array(UserId).max(MAX_MEMBERS_PER_COMMAND).default([]),
});
/** `POST /v1/groups/:groupId/members`. */
export const JoinBody = z.object({ userIds: z.array(UserId).min(1).max(MAX_MEMBERS_PER_COMMAND) });
/** `POST /v1/conversations/:cid/messages` (the body limit is checked by the actor: 413). */
export const SendBody = z.object({
  clientMsgId: ClientMsgId,
  kind: z.enum(MESSAGE_KINDS).default('text'),
  body: z.string(),
  mentions: z.array(UserId).max(MAX_MENTIONS).optional(),
});
/** `POST /v1/conversations/:cid/read`. */
export const ReadBody = z.object({ seq: z.number().int().min(0) });

/** An optional non-negative integer query parameter (strict: `abc`, `1.5`, `-1` are refused). */
export const querySeq = z
  .string()
  .regex(/^\d{1,15}$/, 'must be a non-negative integer')
  .transform(Number)
  .optional();

const ID = '^[A-Za-z0-9_-]{1,64}$';

/** Body of `POST /v1/groups`. */
export class CreateGroupDto {
  @ApiPropertyOptional({ example: 'team', pattern: ID, description: 'chosen by the server when omitted' })
  groupId?: string;
  @ApiProperty({ example: 'Team', maxLength: MAX_GROUP_NAME })
  name!: string;
  @ApiProperty({ example: ['bob', 'carol'], type: [String], description: 'besides the caller (the owner)' })
  members!: string[];
}

/** Answer of `POST /v1/groups`. */
export class CreatedGroupDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ example: 'team' })
  groupId!: string;
}

/** Body of `POST /v1/groups/:groupId/members`. */
export class JoinDto {
  @ApiProperty({ example: ['dave'], type: [String], description: 'a non-member may add only themself' })
  userIds!: string[];
}

/** Answer of `POST /v1/groups/:groupId/members`. */
export class JoinedDto {
  @ApiProperty({ example: ['dave'], type: [String], description: 'users who were not members before' })
  joined!: string[];
}

/** A member of a group. */
export class MemberDto {
  @ApiProperty({ example: 'bob' })
  userId!: string;
  @ApiProperty({ example: 0, description: 'history starts after this seq' })
  joinSeq!: number;
  @ApiProperty({ example: 'member', enum: ['owner', 'member'] })
  role!: string;
}

/** Answer of `GET /v1/groups/:groupId`. */
export class GroupDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ example: 'team' })
  groupId!: string;
  @ApiProperty({ example: 'Team' })
  name!: string;
  @ApiProperty({ example: 'alice' })
  owner!: string;
  @ApiProperty({ type: [MemberDto] })
  members!: MemberDto[];
  @ApiProperty({ example: 42 })
  lastSeq!: number;
  @ApiProperty({ example: false })
  dissolved!: boolean;
  @ApiProperty({ example: 1763800000000 })
  createdAt!: number;
}

/** A group in the active ranking. */
export class HotGroupDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ example: 'Team' })
  name!: string;
  @ApiProperty({ example: 3, description: 'distinct senders within the window' })
  speakers!: number;
  @ApiProperty({ example: 1763800000000 })
  lastActiveAt!: number;
}

/** Answer of `GET /v1/groups/active`. */
export class HotGroupsDto {
  @ApiProperty({ type: [HotGroupDto] })
  groups!: HotGroupDto[];
}

/** Body of `POST /v1/conversations/:cid/messages`. */
export class SendDto {
  @ApiProperty({ example: 'c-123', pattern: '^[A-Za-z0-9_.:-]{1,128}$', description: 'unique per sender' })
  clientMsgId!: string;
  @ApiProperty({ enum: MESSAGE_KINDS, default: 'text' })
  kind!: MessageKind;
  @ApiProperty({ example: 'hi', description: 'at most IM_MAX_BODY_BYTES UTF-8 bytes' })
  body!: string;
  @ApiPropertyOptional({ type: [String], example: ['bob'] })
  mentions?: string[];
}

/** Answer of a send. */
export class SentDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ example: 42 })
  seq!: number;
  @ApiProperty({ example: 1234, description: 'position in the log (the sync cursor)' })
  streamSeq!: number;
  @ApiProperty({ example: 1763800000000 })
  at!: number;
  @ApiProperty({ example: false, description: 'true when this clientMsgId was sent before' })
  duplicate!: boolean;
}

/** A message (DESIGN §7). */
export class MessageDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ example: 42 })
  seq!: number;
  @ApiProperty({ example: 1234 })
  streamSeq!: number;
  @ApiProperty({ example: 'alice' })
  from!: string;
  @ApiProperty({ enum: MESSAGE_KINDS })
  kind!: MessageKind;
  @ApiProperty({ example: 'hi', description: "'' once recalled" })
  body!: string;
  @ApiProperty({ type: [String] })
  mentions!: string[];
  @ApiProperty({ example: 1763800000000 })
  at!: number;
  @ApiProperty({ example: false })
  recalled!: boolean;
}

/** Answer of `GET /v1/conversations/:cid/messages`. */
export class HistoryDto {
  @ApiProperty({ type: [MessageDto], description: 'ascending seq' })
  messages!: MessageDto[];
  @ApiPropertyOptional({ description: 'newer messages follow: pass as afterSeq' })
  nextAfterSeq?: number;
  @ApiPropertyOptional({ description: 'older visible messages precede: pass as beforeSeq' })
  nextBeforeSeq?: number;
}

/** Body of `POST /v1/conversations/:cid/read`. */
export class ReadDto {
  @ApiProperty({ example: 42, description: 'clamped to the last seq; never moves backwards' })
  seq!: number;
}

/** Answer of a read mark. */
export class ReadStateDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ example: 42 })
  readSeq!: number;
  @ApiProperty({ example: 0 })
  unread!: number;
}

/** One recent session. */
export class SessionDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ enum: ['group', 'direct'] })
  type!: string;
  @ApiProperty({ example: 'Team', description: "'' for direct chats" })
  name!: string;
  @ApiProperty({ example: 42 })
  lastSeq!: number;
  @ApiProperty({ example: 40 })
  readSeq!: number;
  @ApiProperty({ example: 2 })
  unread!: number;
  @ApiProperty({
    type: MessageDto,
    nullable: true,
    description: 'body cut to the preview length; null before the first message or once it is past retention',
  })
  lastMessage!: MessageDto | null;
  @ApiProperty({ example: 1763800000000 })
  activeAt!: number;
  @ApiProperty({ example: false })
  dissolved!: boolean;
}

/** Answer of `GET /v1/conversations`. */
export class SessionsDto {
  @ApiProperty({ type: [SessionDto], description: 'most recently active first' })
  conversations!: SessionDto[];
}

/** Unread of one conversation. */
export class UnreadItemDto {
  @ApiProperty({ example: 'g:team' })
  conversationId!: string;
  @ApiProperty({ example: 2 })
  unread!: number;
}

/** Answer of `GET /v1/unread`. */
export class UnreadDto {
  @ApiProperty({ example: 2 })
  total!: number;
  @ApiProperty({ type: [UnreadItemDto] })
  conversations!: UnreadItemDto[];
}

/** Answer of `GET /v1/sync`. */
export class SyncDto {
  @ApiProperty({ type: [MessageDto], description: 'stream order' })
  messages!: MessageDto[];
  @ApiProperty({ example: 1234, description: 'pass as cursor next time' })
  cursor!: number;
  @ApiProperty({ example: false })
  hasMore!: boolean;
}

/** `{}`. */
export class EmptyDto {}

/** Every error answer. */
export class ErrorDetailDto {
  @ApiProperty({ example: 'FORBIDDEN' })
  code!: string;
  @ApiProperty({ example: 'bob is not a member of g:team' })
  message!: string;
}

/** `{"error":{"code","message"}}`. */
export class ErrorDto {
  @ApiProperty({ type: ErrorDetailDto })
  error!: ErrorDetailDto;
}
