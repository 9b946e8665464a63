import { parseConversationId } from '@parley/contracts';
import { type ProjectedEvent } from '../projected-event';
import { type ProjectionSeed } from '../seed';

/** A conversation row touched by messages: last seq (max) and the first event time seen (min). */
export interface ConversationTouch {
  id: string;
  type: 'group' | 'direct';
  lastSeq: number;
  lastMessageAt: number;
  createdAt: number;
}

/** The row a GroupCreated writes. */
export interface ConversationCreated {
  id: string;
  name: string;
  owner: string;
  ownerVersion: number;
  createdAt: number;
}

/** The row a GroupDissolved writes (dissolved_at is set once). */
export interface ConversationDissolved {
  id: string;
  type: 'group' | 'direct';
  dissolvedAt: number;
}

/** A conversation_members row, versioned by the stream seq of its event (newer wins). */
export interface MemberRow {
  conversationId: string;
  userId: string;
  role: 'owner' | 'member';
  joinSeq: number;
  leftSeq: number | null;
  joinedAt: number;
  version: number;
}

/**
 * One membership event, applied in stream order: its rows, then the owner it names (decided by the
 * domain), or, for an event written before events named the owner (a join into an ownerless group,
 * the owner leaving), the owner the domain's `successorOf` picks from the member rows.
 */
export interface MembershipStep {
  conversationId: string;
  streamSeq: number;
  rows: MemberRow[];
  /**
   * `named`: the event names the new owner. Older events: `left` re-elects when that user was the
   * owner; `joined` elects when there is none.
   */
  ownerCheck: { kind: 'named'; owner: string } | { kind: 'left'; userId: string } | { kind: 'joined' } | null;
}

/** The owner step of a membership event that may name the new owner (null: it does not change it). */
function ownerCheckOf(
  newOwner: string | null | undefined,
  legacy: MembershipStep['ownerCheck'],
): MembershipStep['ownerCheck'] {
  if (newOwner === undefined) return legacy;
  return newOwner === null ? null : { kind: 'named', owner: newOwner };
}

/** A messages row. */
export interface MessageRowPlan {
  conversationId: string;
  seq: number;
  streamSeq: number;
  sender: string;
  clientMsgId: string;
  kind: string;
  body: string;
  mentions: string;
  sentAt: number;
}

/** A recall (recalled_at is set once, even before its message row exists). */
export interface RecallPlan {
  conversationId: string;
  seq: number;
  recalledAt: number;
  /** Stream seq of the MessageRecalled event (one per message: a second recall emits nothing). */
  recalledStreamSeq: number;
}

/** Everything one batch writes to MySQL, coalesced by key where order does not matter. */
export interface HistoryPlan {
  touched: ConversationTouch[];
  created: ConversationCreated[];
  dissolved: ConversationDissolved[];
  /** Members of direct chats (version 0: set once, never overrides a real membership event). */
  directMembers: MemberRow[];
  membership: MembershipStep[];
  messages: MessageRowPlan[];
  recalls: RecallPlan[];
}

/**
 * Maps a batch of events to the rows they write (pure). Message-driven writes are coalesced per key
 * (the writes are merges, so order inside the batch does not matter); membership events stay in
 * stream order because the owner election depends on the member set at that point.
 */
export function planHistory(events: ProjectedEvent[]): HistoryPlan {
  const sorted = [...events].sort((a, b) => a.streamSeq - b.streamSeq);
  const touched = new Map<string, ConversationTouch>();
  const created = new Map<string, ConversationCreated>();
  const dissolved = new Map<string, ConversationDissolved>();
  const direct = new Map<string, MemberRow>();
  const messages = new Map<string, MessageRowPlan>();
  const recalls = new Map<string, RecallPlan>();
  const membership: MembershipStep[] = [];
  const seen = new Set<number>();

  for (const { event: e, streamSeq } of sorted) {
    if (seen.has(streamSeq)) continue; // the same message twice in one batch (a redelivery)
    seen.add(streamSeq);
    switch (e.type) {
      case 'GroupCreated':
        created.set(e.conversationId, {
          id: e.conversationId,
          name: e.data.name,
          owner: e.data.owner,
          ownerVersion: streamSeq,
          createdAt: e.at,
        });
        membership.push({
          conversationId: e.conversationId,
          streamSeq,
          ownerCheck: null,
          rows: e.data.members.map((userId) => ({
            conversationId: e.conversationId,
            userId,
            role: userId === e.data.owner ? 'owner' : 'member',
            joinSeq: 0,
            leftSeq: null,
            joinedAt: e.at,
            version: streamSeq,
          })),
        });
        break;
      case 'MembersJoined':
        membership.push({
          conversationId: e.conversationId,
          streamSeq,
          ownerCheck: ownerCheckOf(e.data.newOwner, { kind: 'joined' }),
          rows: e.data.userIds.map((userId) => ({
            conversationId: e.conversationId,
            userId,
            role: 'member',
            joinSeq: e.data.joinSeq,
            leftSeq: null,
            joinedAt: e.at,
            version: streamSeq,
          })),
        });
        break;
      case 'MemberLeft':
        membership.push({
          conversationId: e.conversationId,
          streamSeq,
          ownerCheck: ownerCheckOf(e.data.newOwner, { kind: 'left', userId: e.data.userId }),
          rows: [
            {
              conversationId: e.conversationId,
              userId: e.data.userId,
              role: 'member',
              joinSeq: 0, // kept from the existing row by the writer
              leftSeq: e.data.atSeq,
              joinedAt: e.at,
              version: streamSeq,
            },
          ],
        });
        break;
      case 'MessageSent': {
        const type = parseConversationId(e.conversationId).kind;
        const t = touched.get(e.conversationId);
        if (!t) {
          touched.set(e.conversationId, {
            id: e.conversationId,
            type,
            lastSeq: e.data.seq,
            lastMessageAt: e.at,
            createdAt: e.at,
          });
        } else {
          if (e.data.seq > t.lastSeq) Object.assign(t, { lastSeq: e.data.seq, lastMessageAt: e.at });
          t.createdAt = Math.min(t.createdAt, e.at);
        }
        if (type === 'direct') {
          for (const userId of e.conversationId.split(':').slice(1)) {
            direct.set(`${e.conversationId} ${userId}`, {
              conversationId: e.conversationId,
              userId,
              role: 'member',
              joinSeq: 0,
              leftSeq: null,
              joinedAt: Math.min(e.at, direct.get(`${e.conversationId} ${userId}`)?.joinedAt ?? e.at),
              version: 0,
            });
          }
        }
        messages.set(`${e.conversationId} ${e.data.seq}`, {
          conversationId: e.conversationId,
          seq: e.data.seq,
          streamSeq,
          sender: e.data.from,
          clientMsgId: e.data.clientMsgId,
          kind: e.data.kind,
          body: e.data.body,
          mentions: JSON.stringify(e.data.mentions),
          sentAt: e.at,
        });
        break;
      }
      case 'MessageRecalled': {
        const key = `${e.conversationId} ${e.data.seq}`;
        const prior = recalls.get(key);
        if (!prior || e.at < prior.recalledAt) {
          recalls.set(key, {
            conversationId: e.conversationId,
            seq: e.data.seq,
            recalledAt: e.at,
            recalledStreamSeq: streamSeq,
          });
        }
        break;
      }
      case 'GroupDissolved':
        if (!dissolved.has(e.conversationId)) {
          dissolved.set(e.conversationId, {
            id: e.conversationId,
            type: parseConversationId(e.conversationId).kind,
            dissolvedAt: e.at,
          });
        }
        break;
      case 'ReadMarked':
        break; // read state lives in the counters projection
      default: {
        const _exhaustive: never = e;
        return _exhaustive;
      }
    }
  }
  return {
    touched: [...touched.values()],
    created: [...created.values()],
    dissolved: [...dissolved.values()],
    directMembers: [...direct.values()],
    membership,
    messages: [...messages.values()],
    recalls: [...recalls.values()],
  };
}

/**
 * The rows of a seed (log retention, DESIGN §15): each conversation's row and every member row as its
 * snapshot knows them, with the stream seqs of the events that set them, so replaying the remaining log
 * over them (newer versions win) ends where the live projection is. Messages are not in snapshots: rows
 * of expired events are the archive the rebuild keeps.
 */
export function seedHistoryPlan(seed: ProjectionSeed): HistoryPlan {
  const plan: HistoryPlan = {
    touched: [],
    created: [],
    dissolved: [],
    directMembers: [],
    membership: [],
    messages: [],
    recalls: [],
  };
  for (const [id, { state: s }] of seed.conversations) {
    const r = s.record;
    if (!s.exists || r.createdAt === null) continue;
    if (s.kind === 'group') {
      plan.created.push({
        id,
        name: s.name,
        owner: s.owner,
        ownerVersion: r.ownerVersion,
        createdAt: r.createdAt,
      });
    }
    if (r.last) {
      plan.touched.push({
        id,
        type: s.kind,
        lastSeq: s.lastSeq,
        lastMessageAt: r.last.at,
        createdAt: r.createdAt,
      });
    }
    if (r.dissolvedAt !== null) plan.dissolved.push({ id, type: s.kind, dissolvedAt: r.dissolvedAt });
    const row = (userId: string, m: { joinSeq: number; joinedAt: number; version: number }) => ({
      conversationId: id,
      userId,
      joinSeq: m.joinSeq,
      joinedAt: m.joinedAt,
      version: m.version,
    });
    if (s.kind === 'direct') {
      for (const userId of s.members.keys()) {
        plan.directMembers.push({
          ...row(userId, { joinSeq: 0, joinedAt: r.createdAt, version: 0 }),
          role: 'member',
          leftSeq: null,
        });
      }
      continue;
    }
    const rows: MemberRow[] = [
      ...[...s.members].map(([u, m]) => ({ ...row(u, m), role: m.role, leftSeq: null })),
      ...[...r.left].map(([u, f]) => ({ ...row(u, f), role: 'member' as const, leftSeq: f.leftSeq })),
    ];
    plan.membership.push({ conversationId: id, streamSeq: r.ownerVersion, rows, ownerCheck: null });
  }
  return plan;
}
