import {
  ErrorCode,
  groupConversationId,
  type MessageKind,
  parseConversationId,
  ParleyError,
} from '@parley/contracts';
import { effectiveReadSeq, unreadCount } from '@parley/domain';
import { type Message, type MessagePreview } from './message';
import { type ParleyDatabase } from './mysql/database';
import { projectionPosition, waitForPosition } from './positions';
import { type ParleyRedis } from './redis/parley-redis';
import { decodeMembership, type ProjectionName } from './redis/redis-keys';
import { effectiveRetentionMs, isRetained, retentionCutoff } from './retention';

/** Tuning of a {@link ReadModel}. */
export interface ReadModelOptions {
  /** Window of the hot-groups ranking, in ms of event time (default 5 min). */
  hotGroupsWindowMs?: number;
  /** How long a hot-groups snapshot is reused, in ms (default 3 s). */
  hotGroupsCacheMs?: number;
  /** Default bound of a read-your-writes wait, in ms (default 2 s). */
  readYourWritesTimeoutMs?: number;
  /**
   * `IM_HISTORY_RETENTION_MS`: messages older than this are left out of history, sync and the session
   * preview, whether or not the retention job deleted them yet (default 0 = keep forever).
   */
  historyRetentionMs?: number;
  /** The clock (tests pin it; retention cutoffs are taken from it). */
  now?: () => number;
}

/** Unread counts of one user. */
export interface UnreadSummary {
  /** Sum over the conversations. */
  total: number;
  /** Every current conversation of the user with its unread count. */
  conversations: Array<{ conversationId: string; unread: number }>;
}

/** One entry of a user's recent-session list. */
export interface SessionView {
  /** Conversation. */
  conversationId: string;
  /** `group` or `direct`. */
  type: 'group' | 'direct';
  /** Group name ('' for direct chats). */
  name: string;
  /** Seq of the last message. */
  lastSeq: number;
  /** Effective read seq (max of read mark, join seq and own latest message). */
  readSeq: number;
  /** Unread messages. */
  unread: number;
  /** The last message (body cut to the preview length), or null before the first or once past retention. */
  lastMessage: Message | null;
  /** Event time of the last activity (creation or message), the sort key. */
  activeAt: number;
  /** True once the group was dissolved. */
  dissolved: boolean;
}

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

/** A group in the hot-groups ranking. */
export interface HotGroup {
  /** Conversation. */
  conversationId: string;
  /** Group name. */
  name: string;
  /** Distinct users who sent a message within the window. */
  speakers: number;
  /** Event time of the group's latest message. */
  lastActiveAt: number;
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
const HOT_SNAPSHOT_SIZE = 100;

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
 * The queries the gateway answers from the projections: unread counts and recent sessions from Redis
 * (one round trip per user), history and sync from MySQL, the hot-groups ranking from a short-lived
 * snapshot, and read-your-writes waits on the projections' positions.
 */
export class ReadModel {
  private readonly o: Required<ReadModelOptions>;
  private hot?: { at: number; groups: HotGroup[] };
  private hotPending?: Promise<HotGroup[]>;

  constructor(
    private readonly db: ParleyDatabase,
    private readonly redis: ParleyRedis,
    opts: ReadModelOptions = {},
  ) {
    this.o = {
      hotGroupsWindowMs: opts.hotGroupsWindowMs ?? 5 * 60 * 1000,
      hotGroupsCacheMs: opts.hotGroupsCacheMs ?? 3_000,
      readYourWritesTimeoutMs: opts.readYourWritesTimeoutMs ?? 2_000,
      historyRetentionMs: opts.historyRetentionMs ?? 0,
      now: opts.now ?? Date.now,
    };
  }

  /** Unread per conversation and the total, for every current conversation of the user, in one round trip. */
  async unread(userId: string): Promise<UnreadSummary> {
    const rows = await this.readState(userId, 'unread');
    const conversations = rows
      .map(([conversationId, membership, readSeq, ownLastSeq, lastSeq]) => ({
        conversationId,
        unread: unreadCount(readView(membership, readSeq, ownLastSeq, lastSeq)),
      }))
      .sort((a, b) => (a.conversationId < b.conversationId ? -1 : 1));
    return { total: conversations.reduce((s, c) => s + c.unread, 0), conversations };
  }

  /**
   * The user's current conversations, most recently active first (ordered now, from the heads). A last
   * message past retention is not shown (`lastMessage: null`); lastSeq, unread and the order stay.
   */
  async sessions(userId: string, opts: { limit?: number } = {}): Promise<{ conversations: SessionView[] }> {
    const rows = await this.readState(userId, 'sessions');
    const now = this.o.now();
    const sessions = rows.map((r): SessionView => {
      const [
        conversationId,
        membership,
        read,
        own,
        last,
        activeAt,
        type,
        name,
        preview,
        recalled,
        dissolvedAt,
        retentionMs,
      ] = r;
      const view = readView(membership, read, own, last);
      const head = preview ? (JSON.parse(preview) as MessagePreview) : null;
      const cutoff = retentionCutoff(
        now,
        effectiveRetentionMs(this.o.historyRetentionMs, Number(retentionMs)),
      );
      const lastMessage: Message | null =
        head && isRetained(head.at, cutoff)
          ? { ...head, ...(recalled === '1' ? { body: '' } : {}), recalled: recalled === '1' }
          : null;
      return {
        conversationId,
        type: (type || parseConversationId(conversationId).kind) as 'group' | 'direct',
        name,
        lastSeq: view.lastSeq,
        readSeq: effectiveReadSeq(view),
        unread: unreadCount(view),
        lastMessage,
        activeAt: Number(activeAt),
        dissolved: dissolvedAt !== '',
      };
    });
    sessions.sort((a, b) => b.activeAt - a.activeAt || (a.conversationId < b.conversationId ? -1 : 1));
    return { conversations: opts.limit === undefined ? sessions : sessions.slice(0, opts.limit) };
  }

  /** Members of a conversation with their join seq, from Redis (current members only). */
  async members(conversationId: string): Promise<Array<{ userId: string; joinSeq: number }>> {
    const all = await this.redis.client.hgetall(this.redis.keys.members(conversationId));
    return Object.entries(all)
      .map(([userId, v]) => ({ userId, ...decodeMembership(v) }))
      .filter((m) => m.leftSeq === null)
      .map(({ userId, joinSeq }) => ({ userId, joinSeq }))
      .sort((a, b) => (a.userId < b.userId ? -1 : 1));
  }

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
    const position = await this.position('history');
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

  /**
   * Groups ranked by distinct speakers within the window (event time), then by latest activity; from a
   * snapshot reused for `hotGroupsCacheMs`, so a busy endpoint costs Redis one computation per interval.
   */
  async hotGroups(opts: { limit?: number } = {}): Promise<HotGroup[]> {
    const limit = clampLimit(opts.limit, 20, HOT_SNAPSHOT_SIZE);
    const now = this.o.now();
    if (!this.hot || now - this.hot.at >= this.o.hotGroupsCacheMs) {
      // One computation at a time; concurrent callers share it.
      this.hotPending ??= this.hotSnapshot(now).finally(() => (this.hotPending = undefined));
      this.hot = { at: now, groups: await this.hotPending };
    }
    return this.hot.groups.slice(0, limit);
  }

  /** The stream seq up to which a projection applied every event (0 before its first batch). */
  position(name: ProjectionName): Promise<number> {
    return projectionPosition(name, { db: this.db, redis: this.redis });
  }

  /**
   * Read-your-writes: waits until the projections passed `streamSeq` (e.g. the one a send returned),
   * bounded by `timeoutMs`. Resolves true when they did, false on timeout (the caller reads anyway).
   */
  async waitForProjections(
    streamSeq: number,
    opts: { projections?: ProjectionName[]; timeoutMs?: number } = {},
  ): Promise<boolean> {
    const names = opts.projections ?? (['history', 'counters'] as ProjectionName[]);
    const timeoutMs = opts.timeoutMs ?? this.o.readYourWritesTimeoutMs;
    // A projection that passed is not asked again.
    const passed = new Set<ProjectionName>();
    const lowest = async () => {
      const pending = names.filter((n) => !passed.has(n));
      const positions = await Promise.all(pending.map((n) => this.position(n)));
      pending.forEach((n, i) => positions[i] >= streamSeq && passed.add(n));
      return passed.size === names.length ? streamSeq : Math.min(...positions);
    };
    return (await waitForPosition(lowest, streamSeq, { timeoutMs, now: this.o.now })) >= streamSeq;
  }

  private async hotSnapshot(now: number): Promise<HotGroup[]> {
    const since = now - this.o.hotGroupsWindowMs;
    const k = this.redis.keys;
    const shards = this.redis.client.pipeline();
    for (const key of k.activeAll()) shards.zrangebyscore(key, since, '+inf');
    const candidates = ((await shards.exec()) ?? []).flatMap(([err, ids]) => {
      if (err) throw err;
      return ids as string[];
    });
    if (candidates.length === 0) return [];
    const p = this.redis.client.pipeline();
    for (const cid of candidates) {
      p.zcount(k.speakers(cid), since, '+inf');
      p.hmget(k.head(cid), 'name', 'lastAt', 'dissolvedAt');
    }
    const replies = (await p.exec()) ?? [];
    const groups: HotGroup[] = [];
    candidates.forEach((conversationId, i) => {
      const [e1, speakers] = replies[2 * i];
      const [e2, head] = replies[2 * i + 1];
      if (e1 || e2) throw e1 ?? e2;
      const [name, lastAt, dissolvedAt] = head as Array<string | null>;
      if (dissolvedAt || Number(speakers) === 0) return;
      groups.push({
        conversationId,
        name: name ?? '',
        speakers: Number(speakers),
        lastActiveAt: Number(lastAt),
      });
    });
    groups.sort(
      (a, b) =>
        b.speakers - a.speakers ||
        b.lastActiveAt - a.lastActiveAt ||
        (a.conversationId < b.conversationId ? -1 : 1),
    );
    return groups.slice(0, HOT_SNAPSHOT_SIZE);
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

  /** One READ_STATE round trip: the user's current conversations with their read positions and heads. */
  private readState(userId: string, mode: 'unread' | 'sessions') {
    const k = this.redis.keys;
    return this.redis.client.parleyReadState(
      k.userConversations(userId),
      k.userReads(userId),
      k.userOwn(userId),
      k.prefix,
      mode,
    );
  }

  private async messages(where: string, params: unknown[]): Promise<Message[]> {
    const rows = (await this.db.dataSource.query(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.stream_seq IS NOT NULL AND ${where}`,
      params,
    )) as MessageRow[];
    return rows.map(messageFromRow);
  }
}

/** The read-state view of one row of the READ_STATE script (the user is a current member). */
function readView(membership: string, readSeq: string, ownLastSeq: string, lastSeq: string) {
  return {
    lastSeq: Number(lastSeq),
    readSeq: Number(readSeq),
    joinSeq: decodeMembership(membership).joinSeq,
    ownLastSeq: Number(ownLastSeq),
    isMember: true,
  };
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

function clampLimit(limit: number | undefined, def: number, max: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return def;
  return Math.min(max, Math.max(1, Math.floor(limit)));
}
