/** A member of a conversation as the actor knows it. */
export interface Member {
  /** The conversation's lastSeq when the member (re)joined; they see history from joinSeq + 1. */
  joinSeq: number;
  /** `owner` or `member`. */
  role: 'owner' | 'member';
  /** Seq of the member's own latest message, 0 if none. */
  ownLastSeq: number;
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

/** A recent message, remembered for recall checks. */
export interface RecentMessage {
  /** Sender. */
  from: string;
  /** When it was sent (epoch ms). */
  at: number;
  /** Already recalled. */
  recalled: boolean;
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
  /** Messages still inside the recall window, by seq, oldest first. */
  recent: Map<number, RecentMessage>;
  /** `(from, clientMsgId)` → original, inside the dedup window, oldest first. */
  sent: Map<string, SentRef>;
}

/** The key of a send in the dedup memory. */
export function sentKey(from: string, clientMsgId: string): string {
  return `${from}\u0000${clientMsgId}`;
}
