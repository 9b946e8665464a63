import { Logger } from '@nestjs/common';
import { decodeEvent, type ParleyEvent } from '@parley/contracts';
import { type EventLog } from '@parley/event-log';
import { type NatsConnection, type Subscription } from 'nats';

// After a wake-up that found nothing new, look again after these pauses (ms): the core NATS copy of a
// publish can arrive before JetStream stored it. A copy that is never stored (a refused append) ends here.
const RETRY_MS = [1, 2, 5, 10, 20, 50, 100];

/**
 * The stored events of one subject (`im.evt.conv.<cid>` or `im.evt.user.<uid>`), delivered once each,
 * in stream order, with their stream seq.
 *
 * A core NATS subscription on the subject is only the wake-up: the events themselves are read back
 * from the log ({@link EventLog.readNext}, any replica) after the last delivered stream seq. Core NATS also carries publishes
 * JetStream refused (an expected-sequence conflict, a retried duplicate) and carries no stream seq;
 * reading the stream delivers only what the log holds, exactly once, and costs no server-side consumer
 * per subject.
 */
export class EventFeed {
  private static readonly log = new Logger('event-feed');
  private readonly sub: Subscription;
  private delivered = 0;
  private readonly ready: Promise<number>;
  private running = false;
  private woken = false;
  private closed = false;

  constructor(
    nc: NatsConnection,
    private readonly log: EventLog,
    /** The event subject. */
    readonly subject: string,
    private readonly deliver: (streamSeq: number, event: ParleyEvent) => Promise<void> | void,
  ) {
    this.sub = nc.subscribe(subject, { callback: () => this.wake() });
    // Events stored before the subscription are history (sync), not pushes.
    this.ready = this.lastSeq().then((seq) => {
      this.delivered = Math.max(this.delivered, seq);
      return seq;
    });
  }

  /** Resolves, with the subject's last stream seq then, once the feed knows where the subject ends: later events are pushed. */
  whenReady(): Promise<number> {
    return this.ready;
  }

  /**
   * The stream seq of the subject's last stored event (0 when none); the feed's own watermark when the
   * log cannot be asked.
   */
  async lastStored(): Promise<number> {
    try {
      return await this.lastSeq();
    } catch {
      return this.delivered;
    }
  }

  /** Stops listening. */
  close(): void {
    this.closed = true;
    this.sub.unsubscribe();
  }

  private wake(): void {
    this.woken = true;
    if (!this.running) void this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      await this.ready;
      while (this.woken && !this.closed) {
        this.woken = false;
        let found = await this.pull();
        for (let i = 0; !found && i < RETRY_MS.length && !this.closed; i++) {
          await new Promise((r) => setTimeout(r, RETRY_MS[i]));
          found = await this.pull();
        }
      }
    } catch (err) {
      EventFeed.log.warn(`feed ${this.subject} stalled: ${(err as Error).message}; retrying in 1 s`);
      // The event that woke it may be the last for a while: look again instead of waiting for the next.
      setTimeout(() => !this.closed && this.wake(), 1_000).unref();
    } finally {
      this.running = false;
    }
  }

  /** Delivers every stored event after the watermark; true when there was at least one. */
  private async pull(): Promise<boolean> {
    let found = false;
    while (!this.closed) {
      const m = await this.log.readNext(this.subject, this.delivered + 1);
      if (!m) return found;
      this.delivered = m.streamSeq;
      found = true;
      let event: ParleyEvent;
      try {
        event = decodeEvent(m.data);
      } catch (err) {
        EventFeed.log.warn(
          `skipping undecodable event ${m.streamSeq} on ${this.subject}: ${(err as Error).message}`,
        );
        continue;
      }
      await this.deliver(m.streamSeq, event);
    }
    return found;
  }

  private async lastSeq(): Promise<number> {
    return (await this.log.readLast(this.subject, { anyReplica: true }))?.streamSeq ?? 0;
  }
}
