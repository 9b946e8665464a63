import { type MessageSentEvent } from '@parley/contracts';
import { type MessageWindow } from './message-window';

/** A member of a conversation as the actor knows it. */
export interface Member {
  /** The conversation's lastSeq when the member (re)joined; they see history from joinSeq + 1. */
  joinSeq: number;
  /** `owner` or `member`. */
  role: 'owner' | 'member';
  /** Seq of the member's own latest message since they (re)joined, 0 if none. */
  ownLastSeq: number;
  /** Event time of the membership event that (re)admitted them (history's `joined_at`). */
  joinedAt: number;
  /** Stream seq of that event (the read models' membership version; 0 for a direct chat's pair). */
  version: number;
}

/** A member who left and has not come back, as the read models keep them. */
export interface FormerMember {
  /** Their joinSeq before they left. */
  joinSeq: number;
  /** The conversation's lastSeq when they left. */
  leftSeq: number;
  /** When they had (re)joined. */
  joinedAt: number;
  /** Stream seq of the MemberLeft event. */
  version: number;
}

/** The conversation's latest message (the session list's preview): its event's fields, where and when. */
export type LastMessage = Pick<MessageSentEvent['data'], 'seq' | 'from' | 'kind' | 'body' | 'mentions'> & {
  streamSeq: number;
  at: number;
  recalled: boolean;
};

/**
 * What the read models keep about a conversation beyond what decide needs, folded with it so that a
 * snapshot can seed a projection rebuild once the conversation's early events left the log (DESIGN §15).
 * Bounded by the number of people, never by the number of messages.
 */
export interface ConversationRecord {
  /** Earliest event time of the creation or a message (null before either). */
  createdAt: number | null;
  /** Latest event time of the creation and the messages. */
  activeAt: number;
  /** When the group was dissolved (first time), or null. */
  dissolvedAt: number | null;
  /** Stream seq of the event that last set the owner. */
  ownerVersion: number;
  /** The latest message, or null before the first. */
  last: LastMessage | null;
  /** Users who left and are not back. */
  left: Map<string, FormerMember>;
  /** Group: user → event time of their latest message (the hot-groups ranking). */
  speakers: Map<string, number>;
  /** User → seq of their latest message ever (members and former members). */
  own: Map<string, number>;
}

/** A message that was sent, as remembered for dedup answers. */
export interface SentRef {
  /** Its conversation seq. */
  seq: number;
  /** Its stream sequence. */
  streamSeq: number;
  /** When it was sent (epoch ms). */
  at: number;
}

/** Everything a conversation actor knows, folded from its subject. */
export interface ConversationState {
  /** `g:<groupId>` or `d:<a>:<b>`. */
  conversationId: string;
  /** Group or direct chat. */
  kind: 'group' | 'direct';
  /** A group after GroupCreated; a direct chat after its first message. */
  exists: boolean;
  /** Group name ('' for direct chats). */
  name: string;
  /** Current owner ('' for direct chats, or a group without members). */
  owner: string;
  /** Current members. */
  members: Map<string, Member>;
  /** Seq of the last MessageSent (0 before the first). */
  lastSeq: number;
  /** Set once GroupDissolved. */
  dissolved: boolean;
  /** The latest messages: `(from, clientMsgId)` → original inside the dedup window, recall checks. */
  window: MessageWindow;
  /** What the read models need beyond the decisions. */
  record: ConversationRecord;
}

/**
 * Approximate bytes a conversation's state holds in memory (for the actor host's memory budget): the
 * message window plus about 200 bytes per member and 80 per former member, speaker and own seq.
 */
export function approximateStateBytes(s: ConversationState): number {
  const r = s.record;
  return (
    1_024 +
    s.window.approximateBytes +
    s.members.size * 200 +
    (r.left.size + r.speakers.size + r.own.size) * 80
  );
}
