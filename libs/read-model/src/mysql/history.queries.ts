import {
  ErrorCode,
  groupConversationId,
  type MessageKind,
  parseConversationId,
  ParleyError,
} from '@parley/contracts';
import { type Message } from '../message';
import { clampLimit } from '../paging';
import { historyPosition } from '../positions';
import { effectiveRetentionMs, retentionCutoff } from '../retention';
import { type ParleyDatabase } from './database';

/** A page of history. */
export interface HistoryPage {
  /** Messages in ascending seq order. */
  messages: Message[];
  /** Present when newer messages follow: pass it as `afterSeq`. */
  nextAfterSeq?: number;
  /** Present when older visible messages precede: pass it as `beforeSeq`. */
  nextBeforeSeq?: number;
}

/** A history query: `afterSeq` pages forward, otherwise backward from `beforeSeq` (or the newest). */
export interface HistoryQuery {
  /** Messages with seq greater than this (never at or before the caller's join seq). */
  afterSeq?: number;
  /** Messages with seq less than this. */
  beforeSeq?: number;
  /** Page size (default 50, at most 200). */
  limit?: number;
}

/** A page of multi-device sync. */
export interface SyncPage {
  /** Messages of the user's conversations after the cursor, in stream order. */
  messages: Message[];
  /** The cursor to pass next (the last message's stream seq, or the one given). */
  cursor: number;
  /** True when more messages follow right away. */
  hasMore: boolean;
}

/** A group as its members see it (DESIGN §7 `GET /v1/groups/:groupId`). */
export interface GroupView {
  /** `g:<groupId>`. */
  conversationId: string;
  /** The group id. */
  groupId: string;
  /** Group name. */
  name: string;
  /** Current owner ('' when the last member left). */
  owner: string;
  /** Current members with their join seq and role, by user id. */
  members: Array<{ userId: string; joinSeq: number; role: string }>;
  /** Seq of the last message. */
  lastSeq: number;
  /** True once dissolved. */
  dissolved: boolean;
  /** Creation time, epoch ms. */
  createdAt: number;
}

interface MessageRow {
  conversation_id: string;
  seq: number;
  stream_seq: number;
  sender: string;
  kind: string;
  body: string;
  mentions: string;
  sent_at: Date;
  recalled_at: Date | null;
}

const MESSAGE_COLUMNS =
  'm.conversation_id, m.seq, m.stream_seq, m.sender, m.kind, m.body, m.mentions, m.sent_at, m.recalled_at';

/** Maps a `messages` row to the message shape; a recalled message keeps its place with an empty body. */
export function messageFromRow(r: MessageRow): Message {
  const recalled = r.recalled_at !== null;
  return {
    conversationId: r.conversation_id,
    seq: Number(r.seq),
    streamSeq: Number(r.stream_seq),
    from: r.sender,
    kind: r.kind as MessageKind,
    body: recalled ? '' : r.body,
    mentions: JSON.parse(r.mentions) as string[],
    at: r.sent_at.getTime(),
    recalled,
  };
}

/**
 * History, sync and groups from MySQL: pages of a conversation for a current member, multi-device sync
 * bounded by the history position, and a group as its members see it.
 */
export class HistoryQueries {
  constructor(
    private readonly db: ParleyDatabase,
    private readonly o: { historyRetentionMs: number; now: () => number },
  ) {}

  /**
   * A group's name, owner, current members (with join seq) and last seq, from MySQL, for a current
   * member only: NOT_FOUND for an unknown group, FORBIDDEN for anyone else.
   */
  async group(userId: string, groupId: string): Promise<GroupView> {
    const cid = groupConversationId(groupId); // INVALID_ARGUMENT for a malformed id
    const rows = (await this.db.dataSource.query(
      'SELECT name, owner, last_seq, dissolved_at, created_at FROM conversations WHERE id = ?',
      [cid],
    )) as Array<{
      name: string;
      owner: string;
      last_seq: number;
      dissolved_at: Date | null;
      created_at: Date;
    }>;
    if (rows.length === 0) throw new ParleyError(ErrorCode.NOT_FOUND, `${cid} does not exist`);
    const members = (
      (await this.db.dataSource.query(
        'SELECT user_id, join_seq, role FROM conversation_members ' +
          'WHERE conversation_id = ? AND left_seq IS NULL ORDER BY user_id',
        [cid],
      )) as Array<{ user_id: string; join_seq: number; role: string }>
    ).map((m) => ({ userId: m.user_id, joinSeq: Number(m.join_seq), role: m.role }));
    if (!members.some((m) => m.userId === userId)) {
      throw new ParleyError(ErrorCode.FORBIDDEN, `${userId} is not a member of ${cid}`);
    }
    const g = rows[0];
    return {
      conversationId: cid,
      groupId,
      name: g.name,
      owner: g.owner,
      members,
      lastSeq: Number(g.last_seq),
      dissolved: g.dissolved_at !== null,
      createdAt: g.created_at.getTime(),
    };
  }

  /**
   * A page of a conversation's history for a current member, never reaching at or before their join
   * seq nor past the conversation's retention. NOT_FOUND for an unknown conversation, FORBIDDEN for a
   * non-member.
   */
  async history(userId: string, conversationId: string, q: HistoryQuery = {}): Promise<HistoryPage> {
    const { joinSeq: floor, retentionMs } = await this.membershipOf(userId, conversationId);
    const limit = clampLimit(q.limit, 50, 200);
    const upper = q.beforeSeq ?? Number.MAX_SAFE_INTEGER;
    const cutoff = retentionCutoff(
      this.o.now(),
      effectiveRetentionMs(this.o.historyRetentionMs, retentionMs),
    );
    const retained = cutoff > 0 ? 'm.sent_at >= ? AND ' : '';
    const since = cutoff > 0 ? [new Date(cutoff)] : [];
    if (q.afterSeq !== undefined) {
      const from = Math.max(q.afterSeq, floor);
      const rows = await this.messages(
        `${retained}m.conversation_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq ASC LIMIT ?`,
        [...since, conversationId, from, upper, limit + 1],
      );
      const page = rows.slice(0, limit);
      return rows.length > limit
        ? { messages: page, nextAfterSeq: page[page.length - 1].seq }
        : { messages: page };
    }
    const rows = await this.messages(
      `${retained}m.conversation_id = ? AND m.seq > ? AND m.seq < ? ORDER BY m.seq DESC LIMIT ?`,
      [...since, conversationId, floor, upper, limit + 1],
    );
    const page = rows.slice(0, limit).reverse();
    return rows.length > limit ? { messages: page, nextBeforeSeq: page[0].seq } : { messages: page };
  }

  /**
   * Every message of the user's current conversations (after their join seq, within retention) with a
   * stream seq above `cursor`, in stream order. Bounded by the history projection's position, so a
   * cursor never skips a message still being projected.
   */
  async sync(userId: string, q: { cursor?: number; limit?: number } = {}): Promise<SyncPage> {
    const cursor = Math.max(0, q.cursor ?? 0);
    const limit = clampLimit(q.limit, 100, 1_000);
    const position = await historyPosition(this.db);
    // A message's sync position is its send, or its recall when that came later: a device that synced
    // the message before it was recalled gets it again, recalled, after the recall.
    const at = 'GREATEST(m.stream_seq, COALESCE(m.recalled_stream_seq, 0))';
    const retained = retainedSql(this.o.now(), this.o.historyRetentionMs);
    const rows = (await this.db.dataSource.query(
      `SELECT ${MESSAGE_COLUMNS}, ${at} AS sync_pos FROM messages m ` +
        'JOIN conversation_members cm ON cm.conversation_id = m.conversation_id AND cm.user_id = ? ' +
        'AND cm.left_seq IS NULL AND m.seq > cm.join_seq ' +
        'LEFT JOIN conversations c ON c.id = m.conversation_id ' +
        'WHERE m.stream_seq IS NOT NULL AND (m.stream_seq > ? OR m.recalled_stream_seq > ?) ' +
        `AND ${at} <= ? AND ${retained.sql} ORDER BY sync_pos ASC LIMIT ?`,
      [userId, cursor, cursor, position, ...retained.params, limit + 1],
    )) as Array<MessageRow & { sync_pos: number }>;
    const page = rows.slice(0, limit);
    const next = page.length > 0 ? Number(page[page.length - 1].sync_pos) : cursor;
    return { messages: page.map(messageFromRow), cursor: next, hasMore: rows.length > limit };
  }

  /** A current member's join seq and the conversation's own retention (NOT_FOUND, FORBIDDEN otherwise). */
  private async membershipOf(
    userId: string,
    conversationId: string,
  ): Promise<{ joinSeq: number; retentionMs: number | null }> {
    parseConversationId(conversationId); // INVALID_ARGUMENT for a malformed id
    const rows = (await this.db.dataSource.query(
      'SELECT cm.join_seq, cm.left_seq, c.retention_ms FROM conversation_members cm ' +
        'LEFT JOIN conversations c ON c.id = cm.conversation_id WHERE cm.conversation_id = ? AND cm.user_id = ?',
      [conversationId, userId],
    )) as Array<{ join_seq: number; left_seq: number | null; retention_ms: number | null }>;
    if (rows.length === 1 && rows[0].left_seq === null) {
      const { join_seq, retention_ms } = rows[0];
      return { joinSeq: Number(join_seq), retentionMs: retention_ms === null ? null : Number(retention_ms) };
    }
    const exists = (await this.db.dataSource.query('SELECT 1 FROM conversations WHERE id = ?', [
      conversationId,
    ])) as unknown[];
    if (exists.length === 0) throw new ParleyError(ErrorCode.NOT_FOUND, `${conversationId} does not exist`);
    throw new ParleyError(ErrorCode.FORBIDDEN, `${userId} is not a member of ${conversationId}`);
  }

  private async messages(where: string, params: unknown[]): Promise<Message[]> {
    const rows = (await this.db.dataSource.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.stream_seq IS NOT NULL AND ${where}`,
      params,
    )) as MessageRow[];
    return rows.map(messageFromRow);
  }
}

/**
 * SQL condition keeping the messages `m` retained at `now`, given their conversation `c` (LEFT JOINed):
 * the conversation's own `retention_ms` when shorter than the deployment's, the same rule as
 * {@link effectiveRetentionMs} and {@link retentionCutoff} (a retention of `now` or more keeps everything).
 */
function retainedSql(now: number, historyRetentionMs: number): { sql: string; params: unknown[] } {
  const global = new Date(retentionCutoff(now, historyRetentionMs));
  return {
    sql:
      'm.sent_at >= IF(c.retention_ms > 0 AND c.retention_ms < ?, GREATEST(CAST(? AS DATETIME(3)), ' +
      'CAST(? AS DATETIME(3)) - INTERVAL c.retention_ms * 1000 MICROSECOND), CAST(? AS DATETIME(3)))',
    params: [now, global, new Date(now), global],
  };
}
