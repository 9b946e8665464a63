import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

// Ids are ASCII and case-sensitive ('Alice' and 'alice' are two users): ascii_bin, never a _ci collation.
const ID = { type: 'varchar', charset: 'ascii', collation: 'ascii_bin' } as const;
const BIGINT = {
  type: 'bigint',
  transformer: { to: (v: number) => v, from: (v: unknown) => Number(v) },
} as const;
const NULLABLE_BIGINT = {
  type: 'bigint',
  nullable: true,
  transformer: { to: (v: number | null) => v, from: (v: unknown) => (v === null ? null : Number(v)) },
} as const;

/** `conversations`: one row per group or direct chat (DESIGN §6). */
@Entity({ name: 'conversations' })
export class ConversationEntity {
  /** `g:<groupId>` or `d:<a>:<b>`. */
  @PrimaryColumn({ ...ID, length: 140 })
  id!: string;

  /** `group` or `direct`. */
  @Column({ type: 'varchar', length: 8 })
  type!: 'group' | 'direct';

  /** Group name ('' for direct chats). */
  @Column({ type: 'varchar', length: 512, default: '' })
  name!: string;

  /** Current owner ('' for direct chats or an empty group). */
  @Column({ ...ID, length: 64, default: '' })
  owner!: string;

  /** Stream seq of the event that last set the owner (so a replayed older event never overrides it). */
  @Column({ ...BIGINT, name: 'owner_version', default: 0 })
  ownerVersion!: number;

  /** Seq of the last message. */
  @Column({ ...BIGINT, name: 'last_seq', default: 0 })
  lastSeq!: number;

  /** Event time of the last message. */
  @Column({ type: 'datetime', precision: 3, name: 'last_message_at', nullable: true })
  lastMessageAt!: Date | null;

  /** When the group was dissolved. */
  @Column({ type: 'datetime', precision: 3, name: 'dissolved_at', nullable: true })
  dissolvedAt!: Date | null;

  /** When the group was created, or a direct chat's first message was sent. */
  @Column({ type: 'datetime', precision: 3, name: 'created_at' })
  createdAt!: Date;

  /**
   * The conversation's own history retention in ms (a group's `retentionMs`), over `IM_HISTORY_RETENTION_MS`
   * when shorter. NULL = none; nothing writes it until `GroupSettingsChanged` is projected.
   */
  @Index('idx_conversations_retention_ms')
  @Column({ ...NULLABLE_BIGINT, name: 'retention_ms' })
  retentionMs!: number | null;
}

/** `conversation_members`: one row per user who ever was a member; `left_seq` set while they are out. */
@Entity({ name: 'conversation_members' })
@Index('idx_members_user', ['userId'])
export class ConversationMemberEntity {
  /** Conversation. */
  @PrimaryColumn({ ...ID, length: 140, name: 'conversation_id' })
  conversationId!: string;

  /** Member. */
  @PrimaryColumn({ ...ID, length: 64, name: 'user_id' })
  userId!: string;

  /** `owner` or `member`. */
  @Column({ type: 'varchar', length: 8 })
  role!: 'owner' | 'member';

  /** The conversation's lastSeq when the user (re)joined: history and unread start after it. */
  @Column({ ...BIGINT, name: 'join_seq' })
  joinSeq!: number;

  /** The conversation's lastSeq when the user left, null while a member. */
  @Column({ ...NULLABLE_BIGINT, name: 'left_seq' })
  leftSeq!: number | null;

  /** Event time of the (re)join. */
  @Column({ type: 'datetime', precision: 3, name: 'joined_at' })
  joinedAt!: Date;

  /** Stream seq of the membership event that last changed the row (newer wins). */
  @Column({ ...BIGINT, default: 0 })
  version!: number;
}

/**
 * `messages`: one row per MessageSent, keyed by (conversation_id, seq). A recall that arrives before
 * its message (a redelivery out of order) leaves a row with only `recalled_at`, completed when the
 * message arrives; readers skip rows without a stream seq.
 */
@Entity({ name: 'messages' })
export class MessageEntity {
  /** Conversation. */
  @PrimaryColumn({ ...ID, length: 140, name: 'conversation_id' })
  conversationId!: string;

  /** Per-conversation seq. */
  @PrimaryColumn({ ...BIGINT })
  seq!: number;

  /** Stream seq of the MessageSent (the global sync cursor). */
  @Index('uq_messages_stream_seq', { unique: true })
  @Column({ ...NULLABLE_BIGINT, name: 'stream_seq' })
  streamSeq!: number | null;

  /** Sender. */
  @Column({ ...ID, length: 64, nullable: true })
  sender!: string | null;

  /** The sender's idempotency key. */
  @Column({ ...ID, length: 128, name: 'client_msg_id', nullable: true })
  clientMsgId!: string | null;

  /** Message kind. */
  @Column({ type: 'varchar', length: 16, nullable: true })
  kind!: string | null;

  /** Body. */
  @Column({ type: 'mediumtext', nullable: true })
  body!: string | null;

  /** Mentioned user ids as a JSON array. */
  @Column({ type: 'text', nullable: true })
  mentions!: string | null;

  /** Event time of the MessageSent (retention filters and deletes by it). */
  @Index('idx_messages_sent_at')
  @Column({ type: 'datetime', precision: 3, name: 'sent_at', nullable: true })
  sentAt!: Date | null;

  /** Event time of the recall. */
  @Column({ type: 'datetime', precision: 3, name: 'recalled_at', nullable: true })
  recalledAt!: Date | null;

  /** Stream position of the recall: sync after a cursor returns messages recalled after it. */
  @Column({ type: 'bigint', name: 'recalled_stream_seq', nullable: true })
  recalledStreamSeq!: string | null;
}

/** `projection_checkpoints`: the stream seq up to which a projection applied every event. */
@Entity({ name: 'projection_checkpoints' })
export class ProjectionCheckpointEntity {
  /** Projection name. */
  @PrimaryColumn({ type: 'varchar', length: 64 })
  name!: string;

  /** Stream seq; written in the same transaction as the batch's rows. */
  @Column({ ...BIGINT, name: 'stream_seq' })
  streamSeq!: number;
}

/** Every entity of the history schema. */
export const HISTORY_ENTITIES = [
  ConversationEntity,
  ConversationMemberEntity,
  MessageEntity,
  ProjectionCheckpointEntity,
];
