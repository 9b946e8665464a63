import { conversationEventSubject, type ParleyEvent } from '@parley/contracts';
import { type Subscription } from 'nats';
import { type GatewayMetrics } from '../ops/gateway-metrics';
import { type EventFeed } from './event-feed';
import { type LivePresence } from './live-presence';
import { type LiveSignals } from './live-signals';
import { type ServerFrame } from './live-socket';

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

/**
 * Which connected users follow which conversations: one event feed and one signal subscription per
 * conversation per gateway, however many members and devices are connected, and the fan-out of a frame
 * to each interested user's sockets exactly once.
 */
export class LiveInterest {
  private readonly conversations = new Map<string, ConversationInterest>();

  constructor(
    private readonly presence: LivePresence,
    private readonly signals: LiveSignals,
    private readonly metrics: GatewayMetrics,
    private readonly openFeed: (
      subject: string,
      deliver: (seq: number, e: ParleyEvent) => Promise<void> | void,
    ) => EventFeed,
    private readonly onEvent: (cid: string, streamSeq: number, e: ParleyEvent) => Promise<void>,
  ) {}

  /** When `uid`'s interest in `cid` was added (0 when it has none). */
  addedAt(uid: string, cid: string): number {
    return this.conversations.get(cid)?.users.get(uid)?.addedAt ?? 0;
  }

  /**
   * Makes `uid` interested in `cid`: pushes start after the event at `fromStreamSeq` − 1 when the
   * interest comes from a membership event, else after what the log holds now (the user's join is
   * still to come, or the user just connected: what is already stored is history, read by sync).
   */
  async add(uid: string, cid: string, opts: { fromStreamSeq?: number } = {}): Promise<void> {
    // A user who disconnected meanwhile (while the interest loaded) gains nothing.
    const p = this.presence.get(uid);
    if (!p) return;
    p.conversations.add(cid);
    let c = this.conversations.get(cid);
    const opened = !c;
    if (!c) {
      c = {
        feed: this.openFeed(conversationEventSubject(cid), (seq, e) => this.onEvent(cid, seq, e)),
        signals: this.signals.follow(cid, (frame) => this.toConversation(cid, frame, { except: frame.from })),
        users: new Map(),
      };
      this.conversations.set(cid, c);
      this.updateFeedCount();
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

  /** Ends `uid`'s interest in `cid`; the conversation's last interested user closes its feed. */
  remove(uid: string, cid: string): void {
    this.presence.get(uid)?.conversations.delete(cid);
    const c = this.conversations.get(cid);
    if (!c) return;
    c.users.delete(uid);
    if (c.users.size === 0) this.drop(cid);
  }

  /** Stops following `cid` for everyone (dissolved, or shutting down). */
  drop(cid: string): void {
    const c = this.conversations.get(cid);
    if (!c) return;
    this.conversations.delete(cid);
    c.feed.close();
    c.signals.unsubscribe();
    for (const uid of c.users.keys()) this.presence.get(uid)?.conversations.delete(cid);
    this.updateFeedCount();
  }

  /** Stops following every conversation. */
  dropAll(): void {
    for (const cid of [...this.conversations.keys()]) this.drop(cid);
  }

  /**
   * Pushes a frame to every socket of every user interested in `cid` (each socket once); a stored
   * event (with its stream seq) only to the users whose interest started before it.
   */
  toConversation(cid: string, frame: ServerFrame, opts: { streamSeq?: number; except?: string } = {}): void {
    const c = this.conversations.get(cid);
    if (!c) return;
    for (const [uid, interest] of c.users) {
      if (uid === opts.except) continue;
      if (opts.streamSeq !== undefined && opts.streamSeq <= interest.after) continue;
      this.presence.toUser(uid, frame);
    }
  }

  /** Sets the feeds gauge: one feed per followed conversation and per connected user. */
  updateFeedCount(): void {
    this.metrics.feeds.set(this.conversations.size + this.presence.size);
  }
}
