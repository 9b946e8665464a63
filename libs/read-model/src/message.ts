import { type MessageKind } from '@parley/contracts';

/** A message as every reader sees it (DESIGN §7). A recalled message keeps its place with an empty body. */
export interface Message {
  /** Conversation. */
  conversationId: string;
  /** Per-conversation seq. */
  seq: number;
  /** JetStream stream seq (global position, the sync cursor). */
  streamSeq: number;
  /** Sender. */
  from: string;
  /** Kind. */
  kind: MessageKind;
  /** Body ('' once recalled). */
  body: string;
  /** Mentioned users. */
  mentions: string[];
  /** Event time, epoch ms. */
  at: number;
  /** True once recalled (a tombstone). */
  recalled: boolean;
}

/** The preview of a conversation's last message stored in its Redis head (body cut to the preview length). */
export type MessagePreview = Omit<Message, 'recalled'>;

/** Cuts a body to at most `maxChars` characters without splitting a surrogate pair. */
export function previewBody(body: string, maxChars: number): string {
  if (body.length <= maxChars) return body;
  const cut = body.slice(0, maxChars);
  const last = cut.charCodeAt(cut.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

/** The preview of a message for a conversation head: its fields with the body cut to `maxChars`. */
export function messagePreview(
  conversationId: string,
  m: Omit<MessagePreview, 'conversationId'>,
  maxChars: number,
): MessagePreview {
  const { seq, streamSeq, from, kind, body, mentions, at } = m;
  return { conversationId, seq, streamSeq, from, kind, body: previewBody(body, maxChars), mentions, at };
}
