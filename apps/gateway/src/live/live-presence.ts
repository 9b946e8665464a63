import { type GatewayMetrics } from '../ops/gateway-metrics';
import { type EventFeed } from './event-feed';
import { type LiveSocket, type ServerFrame } from './live-socket';

/** One connected user on this gateway. */
export interface UserPresence {
  sockets: Set<LiveSocket>;
  /** The user's own subject (read state). */
  feed: EventFeed;
  /** Conversations the user is a member of, as this gateway knows it. */
  conversations: Set<string>;
  /** Resolves when the initial interest is in place. */
  loaded: Promise<void>;
}

/** The users with at least one socket on this gateway: their sockets, frames to them, heartbeats. */
export class LivePresence {
  private readonly users = new Map<string, UserPresence>();

  constructor(private readonly metrics: GatewayMetrics) {}

  /** The user's presence, when connected here. */
  get(uid: string): UserPresence | undefined {
    return this.users.get(uid);
  }

  /** Connected users with their presence. */
  entries(): Array<[string, UserPresence]> {
    return [...this.users];
  }

  /** Connected users. */
  get size(): number {
    return this.users.size;
  }

  /** Adds a user's first socket's presence. */
  add(uid: string, presence: UserPresence): void {
    this.users.set(uid, presence);
  }

  /** Forgets a user (their last socket closed). */
  delete(uid: string): void {
    this.users.delete(uid);
  }

  /** Sends a frame to every ready socket of a user. */
  toUser(uid: string, frame: ServerFrame): void {
    const p = this.users.get(uid);
    if (!p) return;
    for (const s of p.sockets) if (s.ready && s.send(frame)) this.metrics.frames.inc({ type: frame.type });
  }

  /** Pings every socket; one that did not answer the previous ping is gone. */
  beat(): void {
    const at = Date.now();
    for (const p of this.users.values()) {
      for (const s of p.sockets) {
        if (!s.ready) continue;
        if (!s.alive) {
          s.ws.terminate();
          continue;
        }
        s.alive = false;
        s.ws.ping();
        s.send({ type: 'heartbeat', at });
      }
    }
  }

  /** Closes every socket (1001, going away) and every user feed. */
  closeAll(): void {
    for (const p of this.users.values()) for (const s of p.sockets) s.ws.close(1001, 'server shutting down');
    for (const p of this.users.values()) p.feed.close();
    this.users.clear();
  }
}
