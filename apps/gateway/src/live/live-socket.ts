import { type WebSocket } from 'ws';

/** Frames the server pushes (DESIGN §7, plus `ready`, `recall`, `heartbeat`, `pong` and `error`). */
export type ServerFrame =
  | { type: 'ready'; userId: string; conversations: number }
  | { type: 'message'; message: Record<string, unknown> }
  | { type: 'recall'; conversationId: string; seq: number; by: string; streamSeq: number }
  | { type: 'read'; conversationId: string; readSeq: number; unread: number }
  | { type: 'member'; conversationId: string; event: Record<string, unknown> }
  | { type: 'signal'; conversationId: string; from: string; body: string; at: number }
  | { type: 'heartbeat'; at: number }
  | { type: 'pong'; at: number }
  | { type: 'error'; code: string; message: string };

const OPEN = 1;

/**
 * One connected device. Sends are bounded: a client whose unsent data passes `maxBufferedBytes` is
 * disconnected (close code 1013, try again later) rather than buffered without bound; on reconnect it
 * catches up with `GET /v1/sync`.
 */
export class LiveSocket {
  /** False after a heartbeat ping until the pong arrives. */
  alive = true;
  /** True once `ready` was sent: pushes and heartbeats start after it, never before. */
  ready = false;

  constructor(
    readonly ws: WebSocket,
    readonly userId: string,
    private readonly maxBufferedBytes: number,
    private readonly onSlow: (s: LiveSocket) => void = () => undefined,
  ) {}

  /** Sends a frame; returns false when the socket is closed or was dropped for being slow. */
  send(frame: ServerFrame): boolean {
    if (this.ws.readyState !== OPEN) return false;
    if (this.ws.bufferedAmount > this.maxBufferedBytes) {
      this.onSlow(this);
      // The close handshake would queue behind the same backlog: cut the connection.
      this.ws.terminate();
      return false;
    }
    this.ws.send(JSON.stringify(frame));
    return true;
  }
}
