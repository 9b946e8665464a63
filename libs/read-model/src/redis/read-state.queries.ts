import { parseConversationId } from '@parley/contracts';
import { effectiveReadSeq, unreadCount } from '@parley/domain';
import { type Message, type MessagePreview } from '../message';
import { effectiveRetentionMs, isRetained, retentionCutoff } from '../retention';
import { type ParleyRedis } from './parley-redis';
import { decodeMembership } from './redis-keys';

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

/**
 * Read state from Redis: unread counts, the recent-session list (one READ_STATE round trip per user)
 * and a conversation's members. Unread and the effective read seq come from libs/domain's rule.
 */
export class ReadStateQueries {
  constructor(
    private readonly redis: ParleyRedis,
    private readonly o: { historyRetentionMs: number; now: () => number } = {
      historyRetentionMs: 0,
      now: Date.now,
    },
  ) {}

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
