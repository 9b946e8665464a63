/** What a reader knows about one member of one conversation. */
export interface MemberReadView {
  /** The conversation's last message seq. */
  lastSeq: number;
  /** The member's explicit read position (ReadMarked), 0 if never read. */
  readSeq: number;
  /** The conversation's lastSeq when the member (re)joined; history and unread start after it. */
  joinSeq: number;
  /** Seq of the member's own latest message in the conversation, 0 if none: your own message is read. */
  ownLastSeq: number;
  /** False once the member left or was removed. */
  isMember: boolean;
}

/**
 * The read position that counts (DESIGN §4): max(readSeq, joinSeq, own latest message seq).
 * The one place this rule lives; every reader (actors, projections, gateway) calls it.
 */
export function effectiveReadSeq(v: Pick<MemberReadView, 'readSeq' | 'joinSeq' | 'ownLastSeq'>): number {
  return Math.max(v.readSeq, v.joinSeq, v.ownLastSeq);
}

/** Unread messages: lastSeq - effectiveReadSeq, never negative, 0 after the member left. */
export function unreadCount(v: MemberReadView): number {
  if (!v.isMember) return 0;
  return Math.max(0, v.lastSeq - effectiveReadSeq(v));
}
