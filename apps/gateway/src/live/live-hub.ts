import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  type ConversationEvent,
  isConversationEvent,
  type ParleyEvent,
  userEventSubject,
} from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { EventLog, NatsClient } from '@parley/event-log';
import { ReadModel } from '@parley/read-model';
import { GatewayMetrics } from '../ops/gateway-metrics';
import { EventFeed } from './event-feed';
import { conversationFrame } from './live-frames';
import { LiveInterest } from './live-interest';
import { LivePresence, type UserPresence } from './live-presence';
import { LiveRefresh } from './live-refresh';
import { checkSignal, LiveSignals } from './live-signals';
import { type LiveSocket } from './live-socket';

/**
 * Interest-based fan-out for WebSocket clients, wired from parts with one job each: who is connected
 * ({@link LivePresence}), which conversations they follow ({@link LiveInterest}), the frames stored
 * events become (live-frames.ts), online-only signals ({@link LiveSignals}) and the periodic refresh
 * from the read model ({@link LiveRefresh}). For each user with at least one socket here, the hub
 * follows the user's subject (read state) and the subjects of the user's conversations, each once per
 * gateway, and pushes every event to each socket of each interested user exactly once. Membership
 * events change the interest as they arrive; the gateway's own commands add interest before they are
 * sent; the refresh picks up memberships changed elsewhere (another gateway, a service on NATS).
 */
@Injectable()
export class LiveHub implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('live');
  private readonly presence: LivePresence;
  private readonly signals: LiveSignals;
  private readonly interest: LiveInterest;
  private readonly refresher: LiveRefresh;
  private heartbeatTimer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;
  private logEndLookup?: { startedAt: number; value: Promise<number> };

  constructor(
    private readonly nats: NatsClient,
    private readonly eventLog: EventLog,
    private readonly readModel: ReadModel,
    private readonly metrics: GatewayMetrics,
    private readonly config: ParleyConfig,
  ) {
    this.presence = new LivePresence(metrics);
    this.signals = new LiveSignals(nats.nc);
    this.interest = new LiveInterest(
      this.presence,
      this.signals,
      metrics,
      (subject, deliver) => this.openFeed(subject, deliver),
      (cid, seq, e) => this.onConversationEvent(cid, seq, e),
    );
    this.refresher = new LiveRefresh(
      this.presence,
      this.interest,
      readModel,
      2 * config.get('IM_WS_REFRESH_MS'),
    );
  }

  onApplicationBootstrap(): void {
    this.heartbeatTimer = setInterval(() => this.presence.beat(), this.config.get('IM_WS_HEARTBEAT_MS'));
    this.refreshTimer = setInterval(() => void this.refresh(), this.config.get('IM_WS_REFRESH_MS'));
  }

  /** Closes every socket (1001, going away) and stops listening. */
  beforeApplicationShutdown(): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.refreshTimer);
    this.interest.dropAll();
    this.presence.closeAll();
  }

  /** Registers a connected socket; resolves when the user's interest is in place (then `ready` is sent). */
  async connect(socket: LiveSocket): Promise<void> {
    const uid = socket.userId;
    let p = this.presence.get(uid);
    if (!p) {
      const presence: UserPresence = {
        sockets: new Set(),
        conversations: new Set(),
        feed: this.openFeed(userEventSubject(uid), (seq, e) => this.onUserEvent(uid, seq, e)),
        loaded: Promise.resolve(),
      };
      presence.loaded = presence.feed.whenReady().then(() => this.loadInterest(uid));
      this.presence.add(uid, (p = presence));
    }
    p.sockets.add(socket);
    this.metrics.sockets.inc();
    await p.loaded;
    socket.send({ type: 'ready', userId: uid, conversations: p.conversations.size });
    // What happened while the interest loaded is history for this socket: the client syncs after ready.
    socket.ready = true;
  }

  /** Forgets a closed socket; the user's last socket ends the user's interest. */
  disconnect(socket: LiveSocket): void {
    const p = this.presence.get(socket.userId);
    if (!p || !p.sockets.delete(socket)) return;
    this.metrics.sockets.dec();
    if (p.sockets.size > 0) return;
    this.presence.delete(socket.userId);
    p.feed.close();
    for (const cid of p.conversations) this.interest.remove(socket.userId, cid);
    this.interest.updateFeedCount();
  }

  /**
   * Makes the connected ones among `userIds` interested in `cid` before a command that may add them
   * (create, join, a direct chat's first message) is sent, so the event it appends is pushed too.
   */
  async prepare(cid: string, userIds: string[]): Promise<void> {
    await Promise.all(userIds.map((u) => this.interest.add(u, cid)));
  }

  /** True when this gateway knows `userId` as a member of `cid` (used to authorize signals). */
  isInterested(userId: string, cid: string): boolean {
    return this.presence.get(userId)?.conversations.has(cid) ?? false;
  }

  /** Publishes an online-only signal (typing…) on core NATS; it is never stored. */
  signal(from: string, cid: string, body: string): void {
    this.signals.publish(from, cid, body);
  }

  /** Validates a client `signal` frame: a known conversation id of which the user is a member. */
  checkSignal(
    userId: string,
    cid: unknown,
    body: unknown,
    maxBytes: number,
  ): { code: string; message: string } | null {
    return checkSignal(userId, cid, body, maxBytes, (c) => this.isInterested(userId, c));
  }

  private openFeed(
    subject: string,
    deliver: (seq: number, e: ParleyEvent) => Promise<void> | void,
  ): EventFeed {
    const feed = new EventFeed(this.nats.nc, this.eventLog, subject, deliver);
    feed.whenReady().catch((err) => this.log.warn(`cannot follow ${subject}: ${(err as Error).message}`));
    return feed;
  }

  private async loadInterest(uid: string): Promise<void> {
    try {
      // Memberships stored before the connect must be in the read model, or the socket would miss
      // those conversations until the next refresh: wait (bounded) until the counters passed the log's end.
      // (Without an answer from NATS, load what the read model has: the refresh catches up.)
      const last = await this.logEnd(Date.now()).catch(() => 0);
      await this.readModel.waitForProjections(last, { projections: ['counters'] });
      const { conversations } = await this.readModel.unread(uid);
      await Promise.all(conversations.map((c) => this.interest.add(uid, c.conversationId)));
    } catch (err) {
      this.log.warn(`cannot load the conversations of ${uid}: ${(err as Error).message}`);
    }
  }

  /**
   * The stream's last seq, read after `since`: connects arriving together (a reconnect storm after a
   * gateway restart) share one lookup that started after each of them.
   */
  private logEnd(since: number): Promise<number> {
    const l = this.logEndLookup;
    if (l && l.startedAt >= since) return l.value;
    const value = this.eventLog.bounds().then((b) => b.last);
    this.logEndLookup = { startedAt: Date.now(), value };
    return value;
  }

  /** A stored conversation event: its frame to the interested users, and the interest it changes. */
  private async onConversationEvent(cid: string, streamSeq: number, e: ParleyEvent): Promise<void> {
    if (!isConversationEvent(e)) return;
    const event = e as ConversationEvent;
    const frame = conversationFrame(cid, streamSeq, event);
    const stored = { streamSeq };
    switch (event.type) {
      case 'GroupCreated':
        await this.joined(cid, [event.data.owner, ...event.data.members], streamSeq);
        break;
      case 'MembersJoined':
        await this.joined(cid, event.data.userIds, streamSeq);
        break;
      default:
        break;
    }
    this.interest.toConversation(cid, frame, stored);
    if (event.type === 'MemberLeft') this.interest.remove(event.data.userId, cid);
    if (event.type === 'GroupDissolved') this.interest.drop(cid);
  }

  /** Members added by an event this gateway did not prepare (another gateway, a service on NATS). */
  private async joined(cid: string, userIds: string[], streamSeq: number): Promise<void> {
    await Promise.all(userIds.map((u) => this.interest.add(u, cid, { fromStreamSeq: streamSeq })));
  }

  private async onUserEvent(uid: string, streamSeq: number, e: ParleyEvent): Promise<void> {
    if (e.type !== 'ReadMarked') return;
    const cid = e.data.conversationId;
    // The frame carries the effective read seq and unread count: read them once the counters show the mark.
    let readSeq = e.data.readSeq;
    let unread = 0;
    try {
      await this.readModel.waitForProjections(streamSeq, { projections: ['counters'] });
      const s = (await this.readModel.sessions(uid)).conversations.find((c) => c.conversationId === cid);
      if (s) ({ readSeq, unread } = s);
    } catch (err) {
      this.log.warn(`read state of ${uid} unavailable: ${(err as Error).message}`);
    }
    this.presence.toUser(uid, { type: 'read', conversationId: cid, readSeq, unread });
  }

  /** Reconciles each connected user's interest with the read model (memberships changed elsewhere). */
  private async refresh(): Promise<void> {
    const { failed, lastError } = await this.refresher.round();
    if (failed > 0) this.log.warn(`refresh failed for ${failed} users (last error: ${lastError})`);
  }
}
