import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  type ConversationEvent,
  conversationEventSubject,
  conversationSignalSubject,
  decodeJson,
  encodeJson,
  ErrorCode,
  isConversationEvent,
  isValidConversationId,
  type ParleyEvent,
  userEventSubject,
} from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { EventLog, NatsClient } from '@parley/event-log';
import { ReadModel } from '@parley/read-model';
import { type Subscription } from 'nats';
import { GatewayMetrics } from '../ops/gateway-metrics';
import { EventFeed } from './event-feed';
import { type LiveSocket, type ServerFrame } from './live-socket';

/** One connected user's interest in one conversation. */
interface MemberInterest {
  /** When the interest was added (epoch ms). */
  addedAt: number;
  /**
   * Events at or before this stream seq are not pushed to the user: they were in the log before the
   * user became a member (or connected), so they are history. Infinity until it is known.
   */
  after: number;
}

interface ConversationInterest {
  feed: EventFeed;
  signals: Subscription;
  /** Connected users of this gateway who are members. */
  users: Map<string, MemberInterest>;
}

/** Users whose interest one refresh round reconciles at a time. */
const REFRESH_CONCURRENCY = 16;

interface UserPresence {
  sockets: Set<LiveSocket>;
  feed: EventFeed;
  /** Conversations the user is a member of, as this gateway knows it. */
  conversations: Set<string>;
  /** Resolves when the initial interest is in place. */
  loaded: Promise<void>;
}

/**
 * Interest-based fan-out for WebSocket clients. For each user with at least one socket here, the hub
 * follows the user's subject (read state) and the subjects of the user's conversations, each once per
 * gateway however many members and devices are connected, and pushes every event to each socket of
 * each interested user exactly once. Membership events change the interest as they arrive; the
 * gateway's own commands add interest before they are sent; a periodic refresh from the read model
 * picks up memberships changed elsewhere (another gateway, a service on NATS).
 */
@Injectable()
export class LiveHub implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('live');
  private readonly users = new Map<string, UserPresence>();
  private readonly conversations = new Map<string, ConversationInterest>();
  private heartbeat?: NodeJS.Timeout;
  private refresher?: NodeJS.Timeout;
  private logEndLookup?: { startedAt: number; value: Promise<number> };
  private refreshing = false;

  constructor(
    private readonly nats: NatsClient,
    private readonly eventLog: EventLog,
    private readonly readModel: ReadModel,
    private readonly metrics: GatewayMetrics,
    private readonly config: ParleyConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.heartbeat = setInterval(() => this.beat(), this.config.get('IM_WS_HEARTBEAT_MS'));
    this.refresher = setInterval(() => void this.refresh(), this.config.get('IM_WS_REFRESH_MS'));
  }

  /** Closes every socket (1001, going away) and stops listening. */
  beforeApplicationShutdown(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.refresher);
    for (const p of this.users.values()) for (const s of p.sockets) s.ws.close(1001, 'server shutting down');
    for (const cid of [...this.conversations.keys()]) this.dropConversation(cid);
    for (const p of this.users.values()) p.feed.close();
    this.users.clear();
  }

  /** Registers a connected socket; resolves when the user's interest is in place (then `ready` is sent). */
  async connect(socket: LiveSocket): Promise<void> {
    const uid = socket.userId;
    let p = this.users.get(uid);
    if (!p) {
      const presence: UserPresence = {
        sockets: new Set(),
        conversations: new Set(),
        feed: this.openFeed(userEventSubject(uid), (seq, e) => this.onUserEvent(uid, seq, e)),
        loaded: Promise.resolve(),
      };
      presence.loaded = presence.feed.whenReady().then(() => this.loadInterest(uid));
      this.users.set(uid, (p = presence));
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
    const p = this.users.get(socket.userId);
    if (!p || !p.sockets.delete(socket)) return;
    this.metrics.sockets.dec();
    if (p.sockets.size > 0) return;
    this.users.delete(socket.userId);
    p.feed.close();
    for (const cid of p.conversations) this.removeInterest(socket.userId, cid);
    this.metrics.feeds.set(this.feedCount());
  }

  /**
   * Makes the connected ones among `userIds` interested in `cid` before a command that may add them
   * (create, join, a direct chat's first message) is sent, so the event it appends is pushed too.
   */
  async prepare(cid: string, userIds: string[]): Promise<void> {
    await Promise.all(userIds.map((u) => this.addInterest(u, cid)));
  }

  /** True when this gateway knows `userId` as a member of `cid` (used to authorize signals). */
  isInterested(userId: string, cid: string): boolean {
    return this.users.get(userId)?.conversations.has(cid) ?? false;
  }

  /** Publishes an online-only signal (typing…) on core NATS; it is never stored. */
  signal(from: string, cid: string, body: string): void {
    this.nats.nc.publish(
      conversationSignalSubject(cid),
      encodeJson({ conversationId: cid, from, body, at: Date.now() }),
    );
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
      await Promise.all(conversations.map((c) => this.addInterest(uid, c.conversationId)));
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

  /**
   * Makes `uid` interested in `cid`: pushes start after the event at `fromStreamSeq` − 1 when the
   * interest comes from a membership event, else after what the log holds now (the user's join is
   * still to come, or the user just connected: what is already stored is history, read by sync).
   */
  private async addInterest(uid: string, cid: string, opts: { fromStreamSeq?: number } = {}): Promise<void> {
    // A user who disconnected meanwhile (while the interest loaded) gains nothing.
    const p = this.users.get(uid);
    if (!p) return;
    p.conversations.add(cid);
    let c = this.conversations.get(cid);
    const opened = !c;
    if (!c) {
      c = {
        feed: this.openFeed(conversationEventSubject(cid), (seq, e) => this.onConversationEvent(cid, seq, e)),
        signals: this.nats.nc.subscribe(conversationSignalSubject(cid), {
          callback: (_err, m) => this.onSignal(cid, m.data),
        }),
        users: new Map(),
      };
      this.conversations.set(cid, c);
      this.metrics.feeds.set(this.feedCount());
    }
    let interest = c.users.get(uid);
    if (interest && opts.fromStreamSeq === undefined) {
      await c.feed.whenReady().catch(() => undefined);
      return;
    }
    if (!interest) c.users.set(uid, (interest = { addedAt: Date.now(), after: Infinity }));
    // A membership event starts an interest that is new or still pending; one already started (the
    // user connected after the join was stored) keeps its start. A command's prepare and the event it
    // appended may race: the earlier start wins.
    if (opts.fromStreamSeq !== undefined) {
      if (interest.after === Infinity) interest.after = opts.fromStreamSeq - 1;
      return;
    }
    const start = await c.feed.whenReady().catch(() => undefined);
    // A feed opened just now starts where the subject ended: that is the position, no second lookup.
    interest.after = Math.min(interest.after, (opened ? start : undefined) ?? (await c.feed.lastStored()));
  }

  private removeInterest(uid: string, cid: string): void {
    this.users.get(uid)?.conversations.delete(cid);
    const c = this.conversations.get(cid);
    if (!c) return;
    c.users.delete(uid);
    if (c.users.size === 0) this.dropConversation(cid);
  }

  private dropConversation(cid: string): void {
    const c = this.conversations.get(cid);
    if (!c) return;
    this.conversations.delete(cid);
    c.feed.close();
    c.signals.unsubscribe();
    for (const uid of c.users.keys()) this.users.get(uid)?.conversations.delete(cid);
    this.metrics.feeds.set(this.feedCount());
  }

  private feedCount(): number {
    return this.conversations.size + this.users.size;
  }

  /**
   * Pushes a frame to every socket of every user interested in `cid` (each socket once); a stored
   * event (with its stream seq) only to the users whose interest started before it.
   */
  private toConversation(
    cid: string,
    frame: ServerFrame,
    opts: { streamSeq?: number; except?: string } = {},
  ): void {
    const c = this.conversations.get(cid);
    if (!c) return;
    for (const [uid, interest] of c.users) {
      if (uid === opts.except) continue;
      if (opts.streamSeq !== undefined && opts.streamSeq <= interest.after) continue;
      this.toUser(uid, frame);
    }
  }

  private toUser(uid: string, frame: ServerFrame): void {
    const p = this.users.get(uid);
    if (!p) return;
    for (const s of p.sockets) if (s.ready && s.send(frame)) this.metrics.frames.inc({ type: frame.type });
  }

  private async onConversationEvent(cid: string, streamSeq: number, e: ParleyEvent): Promise<void> {
    if (!isConversationEvent(e)) return;
    const event = e as ConversationEvent;
    const member = (): ServerFrame => ({
      type: 'member',
      conversationId: cid,
      event: { type: event.type, at: event.at, streamSeq, ...event.data },
    });
    const stored = { streamSeq };
    switch (event.type) {
      case 'MessageSent': {
        const d = event.data;
        this.toConversation(
          cid,
          {
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
          },
          stored,
        );
        return;
      }
      case 'MessageRecalled':
        this.toConversation(cid, { type: 'recall', conversationId: cid, ...event.data, streamSeq }, stored);
        return;
      case 'GroupCreated':
        await this.joined(cid, [event.data.owner, ...event.data.members], streamSeq);
        this.toConversation(cid, member(), stored);
        return;
      case 'MembersJoined':
        await this.joined(cid, event.data.userIds, streamSeq);
        this.toConversation(cid, member(), stored);
        return;
      case 'MemberLeft':
        this.toConversation(cid, member(), stored);
        this.removeInterest(event.data.userId, cid);
        return;
      case 'GroupDissolved':
        this.toConversation(cid, member(), stored);
        this.dropConversation(cid);
        return;
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  }

  /** Members added by an event this gateway did not prepare (another gateway, a service on NATS). */
  private async joined(cid: string, userIds: string[], streamSeq: number): Promise<void> {
    await Promise.all(userIds.map((u) => this.addInterest(u, cid, { fromStreamSeq: streamSeq })));
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
    this.toUser(uid, { type: 'read', conversationId: cid, readSeq, unread });
  }

  private onSignal(cid: string, data: Uint8Array): void {
    try {
      const s = decodeJson(data) as { from?: unknown; body?: unknown; at?: unknown };
      if (typeof s.from !== 'string' || typeof s.body !== 'string') return;
      const at = typeof s.at === 'number' ? s.at : Date.now();
      this.toConversation(
        cid,
        { type: 'signal', conversationId: cid, from: s.from, body: s.body, at },
        { except: s.from },
      );
    } catch {
      // signals are best effort: a malformed one is dropped
    }
  }

  /** Pings every socket; one that did not answer the previous ping is gone. */
  private beat(): void {
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

  /** Reconciles each connected user's interest with the read model (memberships changed elsewhere). */
  private async refresh(): Promise<void> {
    // A round over many users can outlast the interval: never run two at once.
    if (this.refreshing) return;
    this.refreshing = true;
    const queue = [...this.users];
    let failed = 0;
    let lastError = '';
    const worker = async () => {
      for (let next = queue.pop(); next; next = queue.pop()) {
        try {
          await this.refreshUser(next[0], next[1]);
        } catch (err) {
          failed++;
          lastError = (err as Error).message;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: REFRESH_CONCURRENCY }, worker));
      if (failed > 0) this.log.warn(`refresh failed for ${failed} users (last error: ${lastError})`);
    } finally {
      this.refreshing = false;
    }
  }

  private async refreshUser(uid: string, p: UserPresence): Promise<void> {
    const graceMs = 2 * this.config.get('IM_WS_REFRESH_MS');
    const current = new Set((await this.readModel.unread(uid)).conversations.map((c) => c.conversationId));
    for (const cid of current) if (!p.conversations.has(cid)) await this.addInterest(uid, cid);
    for (const cid of [...p.conversations]) {
      const since = this.conversations.get(cid)?.users.get(uid)?.addedAt ?? 0;
      // Interest added moments ago may be ahead of the projection: keep it for a while.
      if (!current.has(cid) && Date.now() - since > graceMs) this.removeInterest(uid, cid);
    }
  }

  /** Validates a client `signal` frame: a known conversation id of which the user is a member. */
  checkSignal(
    userId: string,
    cid: unknown,
    body: unknown,
    maxBytes: number,
  ): { code: string; message: string } | null {
    if (typeof cid !== 'string' || !isValidConversationId(cid)) {
      return { code: ErrorCode.INVALID_ARGUMENT, message: 'conversationId must be a valid conversation id' };
    }
    if (typeof body !== 'string')
      return { code: ErrorCode.INVALID_ARGUMENT, message: 'body must be a string' };
    if (Buffer.byteLength(body) > maxBytes) {
      return { code: ErrorCode.PAYLOAD_TOO_LARGE, message: `signal body over ${maxBytes} bytes` };
    }
    if (!this.isInterested(userId, cid)) {
      return { code: ErrorCode.FORBIDDEN, message: `${userId} is not a member of ${cid}` };
    }
    return null;
  }
}
