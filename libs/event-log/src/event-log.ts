/** One event as stored in the log. */
export interface StoredEvent {
  /** JetStream stream sequence: the event's global position (the sync cursor). */
  streamSeq: number;
  /** The subject it was appended to. */
  subject: string;
  /** The encoded event. */
  data: Uint8Array;
  /** When the server stored it. */
  time: Date;
}

/** Options for {@link EventLog.append}. */
export interface AppendOptions {
  /**
   * The stream sequence of the subject's last event as the writer last saw it (0 for an empty subject).
   * When set, the append fails with a ConcurrencyError if another writer appended in between.
   */
  expectedLastSubjectSeq?: number;
  /** Nats-Msg-Id: a second append with the same id inside the duplicate window is stored once. */
  msgId?: string;
  /**
   * Epoch ms after which no attempt may start (read before each attempt, so it can move on): the
   * writer's lease on the subject ends then. Past it the append fails with LogUnavailableError.
   */
  notAfter?: () => number;
}

/** What an append stored. */
export interface AppendResult {
  /** Stream sequence of the stored event (the original one when `duplicate`). */
  streamSeq: number;
  /** True when the server recognised the Nats-Msg-Id and did not store it again. */
  duplicate: boolean;
}

/** The append-only event log, as the actor host and the projections see it (a port; JetStream implements it). */
export abstract class EventLog {
  /** Appends one event to a subject, guarded by the expected last subject sequence when given. */
  abstract append(subject: string, data: Uint8Array, opts?: AppendOptions): Promise<AppendResult>;
  /** Every event of one subject with streamSeq >= fromStreamSeq, in order. */
  abstract readSubject(subject: string, fromStreamSeq?: number): Promise<StoredEvent[]>;
  /** Like readSubject, as a stream for folding without holding every event. */
  abstract replaySubject(subject: string, fromStreamSeq?: number): AsyncGenerator<StoredEvent>;
  /**
   * The last event of a subject, or undefined when it has none. With `anyReplica` any replica may
   * answer (cheaper, possibly a moment behind the leader); by default the stream leader does.
   */
  abstract readLast(subject: string, opts?: { anyReplica?: boolean }): Promise<StoredEvent | undefined>;
  /**
   * The first event of a subject at or after a stream position, or undefined when there is none yet.
   * Any replica answers: one a moment behind returns undefined for an event just stored, so a caller
   * following a subject asks again when woken.
   */
  abstract readNext(subject: string, fromStreamSeq: number): Promise<StoredEvent | undefined>;
  /** The event at a stream position, or undefined when none is stored there (expired, or not yet written). */
  abstract readAt(streamSeq: number): Promise<StoredEvent | undefined>;
  /**
   * Up to `max` events of every subject from a stream position, in order; with `headersOnly` their data
   * is empty (cheap scans that only need subjects and times).
   */
  abstract readFrom(
    fromStreamSeq: number,
    max: number,
    opts?: { headersOnly?: boolean },
  ): Promise<StoredEvent[]>;
  /**
   * Every event of every subject from a stream position up to `upTo`, in order, as a stream (an
   * ephemeral replay: nothing of it outlives the iteration).
   */
  abstract replay(fromStreamSeq: number, upTo: number): AsyncGenerator<StoredEvent>;
  /** The first and last positions the stream holds (first > last when it is empty). */
  abstract bounds(): Promise<{ first: number; last: number }>;
}
