import {
  conversationSignalSubject,
  decodeJson,
  encodeJson,
  ErrorCode,
  isValidConversationId,
} from '@parley/contracts';
import { type NatsConnection, type Subscription } from 'nats';
import { type ServerFrame } from './live-socket';

/** Online-only signals (typing…) on core NATS: published, received and checked here, never stored. */
export class LiveSignals {
  constructor(private readonly nc: NatsConnection) {}

  /** Publishes a signal of `from` to the conversation's members online on any gateway. */
  publish(from: string, cid: string, body: string): void {
    this.nc.publish(
      conversationSignalSubject(cid),
      encodeJson({ conversationId: cid, from, body, at: Date.now() }),
    );
  }

  /** Follows the conversation's signals; `deliver` gets each well-formed one as a frame (malformed ones are dropped). */
  follow(cid: string, deliver: (frame: Extract<ServerFrame, { type: 'signal' }>) => void): Subscription {
    return this.nc.subscribe(conversationSignalSubject(cid), {
      callback: (_err, m) => {
        const frame = signalFrame(cid, m.data);
        if (frame) deliver(frame);
      },
    });
  }
}

/** The frame of a received signal, or undefined when it is malformed (signals are best effort). */
export function signalFrame(
  cid: string,
  data: Uint8Array,
): Extract<ServerFrame, { type: 'signal' }> | undefined {
  try {
    const s = decodeJson(data) as { from?: unknown; body?: unknown; at?: unknown };
    if (typeof s.from !== 'string' || typeof s.body !== 'string') return undefined;
    const at = typeof s.at === 'number' ? s.at : Date.now();
    return { type: 'signal', conversationId: cid, from: s.from, body: s.body, at };
  } catch {
    return undefined;
  }
}

/** Validates a client `signal` frame: a valid conversation id, a string body within `maxBytes`, a member. */
export function checkSignal(
  userId: string,
  cid: unknown,
  body: unknown,
  maxBytes: number,
  isMember: (cid: string) => boolean,
): { code: string; message: string } | null {
  if (typeof cid !== 'string' || !isValidConversationId(cid)) {
    return { code: ErrorCode.INVALID_ARGUMENT, message: 'conversationId must be a valid conversation id' };
  }
  if (typeof body !== 'string') return { code: ErrorCode.INVALID_ARGUMENT, message: 'body must be a string' };
  if (Buffer.byteLength(body) > maxBytes) {
    return { code: ErrorCode.PAYLOAD_TOO_LARGE, message: `signal body over ${maxBytes} bytes` };
  }
  if (!isMember(cid)) return { code: ErrorCode.FORBIDDEN, message: `${userId} is not a member of ${cid}` };
  return null;
}
