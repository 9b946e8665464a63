import {
  conversationEventSubject,
  type MessageKind,
  type ParleyEvent,
  userEventSubject,
} from '@parley/contracts';
import {
  type ConversationRules,
  type ConversationState,
  DEFAULT_CONVERSATION_RULES,
  evolveConversation,
  evolveUser,
  initialConversationState,
  initialUserState,
  snapshotConversation,
  snapshotUser,
  type UserState,
} from '@parley/domain';
import { emptySeed, type ProjectionSeed } from '../seed';

/** A message row as the log says it. */
export interface ExpectedMessage {
  streamSeq: number;
  from: string;
  clientMsgId: string;
  kind: MessageKind;
  body: string;
  mentions: string[];
  at: number;
  recalledAt: number | null;
  recalledStreamSeq: number | null;
}

/**
 * What the log says about one conversation: the domain's fold (its record holds what the projections keep
 * beyond the decisions) plus the message rows.
 */
export interface ExpectedConversation {
  state: ConversationState;
  /** The conversation's own history retention: `GroupSettingsChanged.retentionMs` folds in here (none yet). */
  retentionMs: number | null;
  /** Messages whose events are in the log (a seeded conversation's older ones expired). */
  messages: Map<number, ExpectedMessage>;
}

/** What the log says, folded with the domain's own evolve functions (an independent derivation). */
export interface ExpectedState {
  conversations: Map<string, ExpectedConversation>;
  users: Map<string, UserState>;
  /** Snapshot JSON of a subject's state as folded at a position asked for ({@link FoldOptions.captureAt}). */
  captured: Map<string, string>;
}

/** Options of {@link foldExpected}. */
export interface FoldOptions {
  /** Where subjects whose early events expired start (log retention); the log goes on after each position. */
  seed?: ProjectionSeed;
  /** Subject → position: capture the subject's state there (to compare with its stored snapshot). */
  captureAt?: Map<string, number>;
  /** The rules the actor hosts run with (dedup and recall windows shape the snapshots). */
  rules?: ConversationRules;
}

/** Folds events (in stream order) into the expected state. */
export function foldExpected(
  events: Array<{ event: ParleyEvent; streamSeq: number }>,
  opts: FoldOptions = {},
): ExpectedState {
  const seed = opts.seed ?? emptySeed();
  const rules = opts.rules ?? DEFAULT_CONVERSATION_RULES;
  const conversations = new Map<string, ExpectedConversation>();
  const users = new Map<string, UserState>();
  const captured = new Map<string, string>();
  for (const [cid, { state }] of seed.conversations) {
    conversations.set(cid, { state, retentionMs: null, messages: new Map() });
  }
  for (const [uid, { state }] of seed.users) users.set(uid, state);
  for (const { event: e, streamSeq } of events) {
    if (e.type === 'ReadMarked') {
      if (streamSeq <= (seed.users.get(e.userId)?.position ?? 0)) continue;
      const u = evolveUser(users.get(e.userId) ?? initialUserState(e.userId), e);
      users.set(e.userId, u);
      const subject = userEventSubject(e.userId);
      if (opts.captureAt?.get(subject) === streamSeq) captured.set(subject, JSON.stringify(snapshotUser(u)));
      continue;
    }
    let c = conversations.get(e.conversationId);
    if (!c) {
      c = { state: initialConversationState(e.conversationId), retentionMs: null, messages: new Map() };
      conversations.set(e.conversationId, c);
    }
    // Message rows come from every event the log still holds, seeded or not.
    if (e.type === 'MessageSent') {
      c.messages.set(e.data.seq, {
        ...e.data,
        streamSeq,
        at: e.at,
        recalledAt: null,
        recalledStreamSeq: null,
      });
    } else if (e.type === 'MessageRecalled') {
      const m = c.messages.get(e.data.seq);
      if (m && m.recalledAt === null) Object.assign(m, { recalledAt: e.at, recalledStreamSeq: streamSeq });
    }
    if (streamSeq <= (seed.conversations.get(e.conversationId)?.position ?? 0)) continue;
    c.state = evolveConversation(c.state, e, { streamSeq }, rules);
    const subject = conversationEventSubject(e.conversationId);
    if (opts.captureAt?.get(subject) === streamSeq) {
      captured.set(subject, JSON.stringify(snapshotConversation(c.state)));
    }
  }
  return { conversations, users, captured };
}
