import { type ConversationEvent } from '@parley/contracts';
import { type ServerFrame } from './live-socket';

/** The frame a stored conversation event is pushed as (`message`, `recall`, or `member`). */
export function conversationFrame(cid: string, streamSeq: number, event: ConversationEvent): ServerFrame {
  switch (event.type) {
    case 'MessageSent': {
      const d = event.data;
      return {
        type: 'message',
        message: {
          conversationId: cid,
          seq: d.seq,
          streamSeq,
          from: d.from,
          kind: d.kind,
          body: d.body,
          mentions: d.mentions,
          at: event.at,
          recalled: false,
        },
      };
    }
    case 'MessageRecalled':
      return { type: 'recall', conversationId: cid, ...event.data, streamSeq };
    case 'GroupCreated':
    case 'MembersJoined':
    case 'MemberLeft':
    case 'GroupDissolved':
      return {
        type: 'member',
        conversationId: cid,
        event: { type: event.type, at: event.at, streamSeq, ...event.data },
      };
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}
