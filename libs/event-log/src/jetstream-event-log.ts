import { setTimeout as sleep } from 'node:timers/promises';
import { randomUUID } from 'node:crypto';
import {
  AckPolicy,
  DeliverPolicy,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type NatsError,
  type StoredMsg,
} from 'nats';
import {
  ConcurrencyError,
  isTransientNatsError,
  JS_WRONG_LAST_SEQUENCE,
  jetStreamErrorCode,
  LogUnavailableError,
} from './errors';
import { type AppendOptions, type AppendResult, EventLog, type StoredEvent } from './event-log';
import { EVENTS_STREAM } from './streams';

/** Tuning of {@link JetStreamEventLog}. */
export interface JetStreamEventLogOptions {
  /** Stream the subjects live in (default IM_EVENTS). */
  stream?: string;
  /** Total time an append keeps retrying through leader elections and reconnects, in ms (default 10 s). */
  appendTimeoutMs?: number;
  /** Timeout of one publish attempt, in ms (default 2 s). */
  attemptTimeoutMs?: number;
  /** Messages asked for per pull while replaying a subject (default 2,000). */
  replayBatch?: number;
}

const NO_MESSAGE_FOUND = 10037;

/** A direct-get query: the last message of a subject, or its first one at or after `seq`. */
type DirectQuery = { last_by_subj: string } | { seq: number; next_by_subj: string };
// nats.js implements direct gets on its JetStreamManager (`jsm.direct`) but leaves them out of the
// exported interface; this is the one place that reaches for it.
type WithDirect = { direct: { getMessage(stream: string, q: DirectQuery): Promise<StoredMsg> } };

/** {@link EventLog} on NATS JetStream: guarded appends with Nats-Msg-Id, reads by direct get, replays via ephemeral consumers. */
export class JetStreamEventLog extends EventLog {
  private readonly js: JetStreamClient;
  private readonly stream: string;
  private readonly appendTimeoutMs: number;
  private readonly attemptTimeoutMs: number;
  private readonly replayBatch: number;

  constructor(
    nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    opts: JetStreamEventLogOptions = {},
  ) {
    super();
    this.js = nc.jetstream();
    this.stream = opts.stream ?? EVENTS_STREAM;
    this.appendTimeoutMs = opts.appendTimeoutMs ?? 10_000;
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2_000;
    this.replayBatch = opts.replayBatch ?? 2_000;
  }

  /** Creates the log for a connection. */
  static async create(nc: NatsConnection, opts: JetStreamEventLogOptions = {}): Promise<JetStreamEventLog> {
    return new JetStreamEventLog(nc, await nc.jetstreamManager({ checkAPI: false }), opts);
  }

  /**
   * Appends with the expected-last-subject-sequence guard. Transient failures (no leader, timeouts,
   * reconnects) are retried with the same Nats-Msg-Id, so a retry whose first attempt was in fact
   * stored answers `duplicate: true` with the original sequence instead of writing twice.
   */
  async append(subject: string, data: Uint8Array, opts: AppendOptions = {}): Promise<AppendResult> {
    const msgID = opts.msgId ?? randomUUID();
    const expect =
      opts.expectedLastSubjectSeq === undefined ? {} : { lastSubjectSequence: opts.expectedLastSubjectSeq };
    const deadline = Date.now() + this.appendTimeoutMs;
    let wait = 100;
    for (;;) {
      // A writer whose lease ended must not start another attempt: another host may own the subject now.
      const limit = opts.notAfter?.() ?? Infinity;
      const left = limit - Date.now();
      if (left <= 0)
        throw new LogUnavailableError(`append to ${subject} not attempted: the writer's lease ended`);
      try {
        const timeout = Math.max(1, Math.min(this.attemptTimeoutMs, left));
        const pa = await this.js.publish(subject, data, { msgID, expect, timeout });
        return { streamSeq: pa.seq, duplicate: pa.duplicate };
      } catch (err) {
        if (jetStreamErrorCode(err) === JS_WRONG_LAST_SEQUENCE) {
          throw new ConcurrencyError(subject, opts.expectedLastSubjectSeq ?? -1, err);
        }
        if (!isTransientNatsError(err)) throw err;
        if (Date.now() + wait > deadline) {
          throw new LogUnavailableError(`append to ${subject} failed for ${this.appendTimeoutMs} ms`, err);
        }
        await sleep(wait);
        wait = Math.min(wait * 2, 1_000);
      }
    }
  }

  /** The last event of a subject, read from the stream leader (not a possibly stale replica) unless asked. */
  readLast(subject: string, opts: { anyReplica?: boolean } = {}): Promise<StoredEvent | undefined> {
    return opts.anyReplica
      ? this.directGet({ last_by_subj: subject })
      : this.getMessage({ last_by_subj: subject });
  }

  /** The first event of a subject at or after a position, by direct get (any replica answers). */
  readNext(subject: string, fromStreamSeq: number): Promise<StoredEvent | undefined> {
    return this.directGet({ seq: Math.max(1, fromStreamSeq), next_by_subj: subject });
  }

  /** The event at a stream position, read from the stream leader. */
  readAt(streamSeq: number): Promise<StoredEvent | undefined> {
    return this.getMessage({ seq: streamSeq });
  }

  private async getMessage(
    query: { seq: number } | { last_by_subj: string },
  ): Promise<StoredEvent | undefined> {
    try {
      const sm = await this.jsm.streams.getMessage(this.stream, query);
      return { streamSeq: sm.seq, subject: sm.subject, data: sm.data, time: sm.time };
    } catch (err) {
      if (jetStreamErrorCode(err) === NO_MESSAGE_FOUND || (err as NatsError).code === '404') return undefined;
      throw err;
    }
  }

  private async directGet(query: DirectQuery): Promise<StoredEvent | undefined> {
    try {
      const sm = await (this.jsm as unknown as WithDirect).direct.getMessage(this.stream, query);
      return { streamSeq: sm.seq, subject: sm.subject, data: sm.data, time: sm.time };
    } catch (err) {
      if ((err as NatsError).code === '404') return undefined;
      throw err;
    }
  }

  /** A bounded read across subjects with a short-lived ack-less consumer (headers only when asked). */
  async readFrom(
    fromStreamSeq: number,
    max: number,
    opts: { headersOnly?: boolean } = {},
  ): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    if (max <= 0) return out;
    const from = Math.max(1, fromStreamSeq);
    for await (const e of this.ephemeral({ from, headersOnly: opts.headersOnly, max })) out.push(e);
    return out;
  }

  /** Every event from a position up to `upTo`, streamed through one ephemeral consumer. */
  async *replay(fromStreamSeq: number, upTo: number): AsyncGenerator<StoredEvent> {
    const from = Math.max(1, fromStreamSeq);
    if (upTo < from) return;
    yield* this.ephemeral({ from, upTo });
  }

  /** The stream's first and last sequence. */
  async bounds(): Promise<{ first: number; last: number }> {
    const { state } = await this.jsm.streams.info(this.stream);
    return { first: state.first_seq, last: state.last_seq };
  }

  /**
   * Replays one subject from a stream position with a server-side filtered ephemeral consumer: the
   * server skips other subjects, and the client pulls large batches, so a subject of 10k events
   * among millions costs one consumer creation plus a few round trips.
   */
  async readSubject(subject: string, fromStreamSeq = 1): Promise<StoredEvent[]> {
    const out: StoredEvent[] = [];
    for await (const e of this.replaySubject(subject, fromStreamSeq)) out.push(e);
    return out;
  }

  /** Like {@link readSubject}, as a stream of events for folding without holding them all. */
  async *replaySubject(subject: string, fromStreamSeq = 1): AsyncGenerator<StoredEvent> {
    // An empty or fully read subject costs one direct get instead of a consumer round trip.
    const last = await this.readLast(subject);
    if (!last || last.streamSeq < fromStreamSeq) return;
    if (last.streamSeq === fromStreamSeq) {
      yield last;
      return;
    }
    yield* this.ephemeral({ from: fromStreamSeq, subject });
  }

  /**
   * The one ephemeral replay: a plain pull consumer without acks, in memory, deleted afterwards. The
   * server filters the subject (when given) and counts what is left (num_pending), so every fetch asks
   * for exactly what exists and never waits for an expiry; the consumer sequence of each delivery must
   * be the next one, so a lost delivery raises LogUnavailableError instead of silently skipping an
   * event. (The client's ordered consumer was avoided: its reset path sent a start sequence with
   * deliver policy "all", which nats-server 2.9 rejects.) Stops after `max` events or past `upTo`.
   */
  private async *ephemeral(q: {
    from: number;
    subject?: string;
    headersOnly?: boolean;
    max?: number;
    upTo?: number;
  }): AsyncGenerator<StoredEvent> {
    const what = q.subject ?? `${this.stream} from ${q.from}`;
    const info = await this.jsm.consumers.add(this.stream, {
      ...(q.subject ? { filter_subject: q.subject } : {}),
      ...(q.from <= 1
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: q.from }),
      ack_policy: AckPolicy.None,
      headers_only: q.headersOnly ?? false,
      mem_storage: true,
      num_replicas: 1,
      inactive_threshold: nanos(30_000),
    });
    try {
      let left = q.max ?? Infinity;
      let remaining = info.num_pending;
      let nextDelivery = 1;
      if (remaining === 0 || left === 0) return;
      const consumer = await this.js.consumers.get(this.stream, info.name);
      while (remaining > 0 && left > 0) {
        const batch = await consumer.fetch({
          max_messages: Math.min(remaining, left, this.replayBatch),
          expires: 10_000,
        });
        let received = 0;
        for await (const m of batch) {
          // Without acks a lost delivery would go unnoticed; the consumer sequence makes it visible.
          if (m.info.deliverySequence !== nextDelivery) {
            throw new LogUnavailableError(`replay of ${what} lost a delivery (expected #${nextDelivery})`);
          }
          if (q.upTo !== undefined && m.seq > q.upTo) return;
          nextDelivery += 1;
          received += 1;
          left -= 1;
          remaining = m.info.pending;
          yield {
            streamSeq: m.seq,
            subject: m.subject,
            data: m.data,
            time: new Date(m.info.timestampNanos / 1e6),
          };
          if (q.upTo !== undefined && m.seq >= q.upTo) return;
          if (left === 0) break;
        }
        if (received === 0) throw new LogUnavailableError(`replay of ${what} received nothing for 10 s`);
      }
    } finally {
      await this.jsm.consumers.delete(this.stream, info.name).catch(() => undefined);
    }
  }
}
