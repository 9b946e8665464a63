import { randomUUID } from 'node:crypto';
import {
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type NatsError,
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

/** {@link EventLog} on NATS JetStream: guarded appends with Nats-Msg-Id, subject replay via ordered consumers. */
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
    return new JetStreamEventLog(nc, await nc.jetstreamManager(), opts);
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
      try {
        const pa = await this.js.publish(subject, data, { msgID, expect, timeout: this.attemptTimeoutMs });
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

  /** The last event of a subject, read from the stream leader (not a possibly stale replica). */
  async readLast(subject: string): Promise<StoredEvent | undefined> {
    try {
      const sm = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject });
      return { streamSeq: sm.seq, subject: sm.subject, data: sm.data, time: sm.time };
    } catch (err) {
      if (jetStreamErrorCode(err) === NO_MESSAGE_FOUND || (err as NatsError).code === '404') return undefined;
      throw err;
    }
  }

  /**
   * Replays one subject from a stream position with a server-side filtered ordered consumer: the
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
    // Knowing the last position bounds the replay: no waiting on an empty pull to learn we are done.
    const last = await this.readLast(subject);
    if (!last || last.streamSeq < fromStreamSeq) return;
    if (last.streamSeq === fromStreamSeq) {
      yield last;
      return;
    }
    const consumer = await this.js.consumers.get(this.stream, {
      filterSubjects: subject,
      deliver_policy: fromStreamSeq <= 1 ? DeliverPolicy.All : DeliverPolicy.StartSequence,
      ...(fromStreamSeq > 1 ? { opt_start_seq: fromStreamSeq } : {}),
      inactive_threshold: 30_000_000_000,
    });
    const messages = await consumer.consume({ max_messages: this.replayBatch, expires: 5_000 });
    try {
      for await (const m of messages) {
        yield {
          streamSeq: m.seq,
          subject: m.subject,
          data: m.data,
          time: new Date(m.info.timestampNanos / 1e6),
        };
        if (m.seq >= last.streamSeq || m.info.pending === 0) break;
      }
    } finally {
      messages.stop();
      await consumer.delete().catch(() => undefined);
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
