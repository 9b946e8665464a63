import { Logger, type LoggerService } from '@nestjs/common';
import { decodeEvent } from '@parley/contracts';
import {
  ConsumerLoop,
  type ConsumerLoopStats,
  type Delivery,
  EVENTS_STREAM,
  JetStreamEventLog,
} from '@parley/event-log';
import { isTransientStoreError, waitForPosition } from '@parley/read-model';
import { type NatsConnection } from 'nats';
import { type ProjectedEvent } from './projected-event';
import { durableName, type Projection } from './projection';

const IDLE_TICK_MS = 1_000;

/** Thrown for a batch that would apply events before an earlier one (retried, never poison). */
export class WaitingForEarlierEvents extends Error {
  override readonly name = 'WaitingForEarlierEvents';
  constructor(readonly missingStreamSeq: number) {
    super(`waiting for stream seq ${missingStreamSeq} before applying later events`);
  }
}

/** Tuning of a {@link ProjectionRunner}. */
export interface ProjectionRunnerOptions {
  /** Stream (default IM_EVENTS). */
  stream?: string;
  /** Durable consumer name (default `projector-<name>`). */
  durable?: string;
  /** Events per batch (default 500). */
  batchSize?: number;
  /** Ack wait in ms: how soon a crashed projector's unacked batch is redelivered (default 10 s). */
  ackWaitMs?: number;
  /** Failures after which a (non-transient) event is recorded as poison (default 5). */
  maxFailures?: number;
  /**
   * Nak backoff (default 100 ms doubling to 2 s): short, because events waiting behind a gap come back
   * in order only when their delays stay close, and an outage is retried at least every 2 s.
   */
  backoffMs?: { initial: number; max: number };
  /** Logger. */
  logger?: LoggerService;
}

/** Where a projection stands. */
/**
 * Runs one projection as a durable pull consumer on IM_EVENTS: batches are applied all or nothing,
 * acked only after the write committed (the ConsumerLoop acks when the handler resolved), infra
 * outages are transient (naked with backoff, never poison), undecodable events are recorded in
 * IM_DEADLETTER and terminated.
 *
 * Events are applied in stream order: a batch that starts past a gap (after a crash the old batch is
 * redelivered only after its ack wait while newer events flow; or a retried batch) is naked until the
 * gap is filled. Keyed merges would tolerate any order (events name the new owner; only events written
 * before they did need the member set as of their event), but the position written with each batch must
 * be contiguous: every event at or below it is applied, so a reader waiting for it never skips an event.
 */
export class ProjectionRunner {
  private readonly loop: ConsumerLoop<ProjectedEvent['event']>;
  private readonly stream: string;
  private readonly durable: string;
  private applied = 0;
  /** Batches and idle ticks run one at a time. */
  private serial: Promise<unknown> = Promise.resolve();
  private ticker?: NodeJS.Timeout;
  private floorCache?: { at: number; floor: number };
  private readonly logger: LoggerService;
  /** When the last batch was applied (performance.now()). */
  private lastBatchAt = 0;

  constructor(
    private readonly nc: NatsConnection,
    /** The projection it runs. */
    readonly projection: Projection,
    opts: ProjectionRunnerOptions = {},
  ) {
    this.stream = opts.stream ?? EVENTS_STREAM;
    this.durable = opts.durable ?? durableName(projection.name);
    const logger = opts.logger ?? new Logger(`projection:${projection.name}`);
    this.logger = logger;
    this.loop = new ConsumerLoop(nc, {
      stream: this.stream,
      durable: this.durable,
      decode: (m) => decodeEvent(m.data),
      handleBatch: (ds) => this.handle(ds),
      isTransient: (err) => err instanceof WaitingForEarlierEvents || isTransientStoreError(err),
      batchSize: opts.batchSize ?? 500,
      ackWaitMs: opts.ackWaitMs ?? 10_000,
      maxFailures: opts.maxFailures ?? 5,
      backoffMs: opts.backoffMs ?? { initial: 100, max: 2_000 },
      // A batch is whatever arrived while the previous one was written: waiting for company only adds lag.
      lingerMs: 0,
      logger,
    });
  }

  /** Consumer counters (acked, failures, poisoned, batches). */
  get stats(): ConsumerLoopStats {
    return this.loop.stats;
  }

  /** The position this runner last wrote (0 before its first batch). */
  get position(): number {
    return this.applied;
  }

  /** Resumes from the recorded position and starts consuming. */
  async start(): Promise<void> {
    this.applied = await this.projection.position();
    // Log retention: events before the stream's first position are gone and can never be applied.
    const { first } = await (await JetStreamEventLog.create(this.nc, { stream: this.stream })).bounds();
    if (first - 1 > this.applied) {
      if (this.applied > 0) {
        this.logger.warn(
          `${first - 1 - this.applied} events expired before ${this.projection.name} applied them; ` +
            '`npm run projection -- rebuild` seeds it from the actor snapshots',
        );
      }
      this.applied = first - 1;
      await this.projection.apply([], this.applied);
    }
    await this.loop.start();
    this.ticker = setInterval(() => void this.tick(), IDLE_TICK_MS);
  }

  /** Stops pulling, finishes and acks the batch in hand. */
  async stop(): Promise<void> {
    clearInterval(this.ticker);
    await this.loop.stop();
    await this.serial;
  }

  /** Waits (bounded) until the position reached `streamSeq`; throws on timeout. */
  async waitForPosition(streamSeq: number, timeoutMs: number): Promise<void> {
    const at = await waitForPosition(() => this.applied, streamSeq, { timeoutMs });
    if (at < streamSeq) {
      throw new Error(
        `${this.projection.name} at ${at}, not ${streamSeq}, after ${timeoutMs} ms (stats ${JSON.stringify(this.loop.stats)})`,
      );
    }
  }

  private handle(ds: Delivery<ProjectedEvent['event']>[]): Promise<void> {
    const run = this.serial.then(() => this.applyBatch(ds));
    this.serial = run.catch(() => undefined);
    return run;
  }

  /**
   * When idle, moves the position up to the server's ack floor: events the loop terminated as poison
   * (or that another instance applied) are done too, and without a later batch nothing else would
   * record that. Skipped while batches flow (each one records its position), and the floor is asked
   * before joining the queue of batches, so that the lookup never holds a batch back. Failures are
   * ignored; the next tick tries again.
   */
  private async tick(): Promise<void> {
    if (performance.now() - this.lastBatchAt < IDLE_TICK_MS) return;
    const floor = await this.ackFloor().catch(() => 0);
    if (floor <= this.applied) return;
    const run = this.serial.then(async () => {
      if (floor <= this.applied) return;
      await this.projection.apply([], floor);
      this.applied = Math.max(this.applied, floor);
    });
    this.serial = run.catch(() => undefined);
    return run.catch(() => undefined);
  }

  /** The consumer's ack floor, cached briefly: a batch retried one event at a time asks once. */
  private async ackFloor(): Promise<number> {
    if (this.floorCache && Date.now() - this.floorCache.at < 100) return this.floorCache.floor;
    const floor = await this.loop.ackFloor();
    this.floorCache = { at: Date.now(), floor };
    return floor;
  }

  private async applyBatch(ds: Delivery<ProjectedEvent['event']>[]): Promise<void> {
    const seqs = ds.map((d) => d.streamSeq).sort((a, b) => a - b);
    const extend = (base: number) => seqs.reduce((p, s) => (s === p + 1 ? s : p), base);
    let position = extend(this.applied);
    if (seqs[seqs.length - 1] > position) {
      // A gap: the server's ack floor also counts poison it terminated and events another instance applied.
      position = extend(Math.max(this.applied, await this.ackFloor()));
      // Still a gap: earlier events are unacked (a crashed instance's batch waiting for its ack wait, or
      // a retry). The position must stay contiguous (and an old event without newOwner elects from the
      // member rows as of its event), so wait for them: the loop retries
      // the batch one event at a time, applying the contiguous prefix and naking the rest.
      if (seqs[seqs.length - 1] > position) throw new WaitingForEarlierEvents(position + 1);
    }
    await this.projection.apply(
      ds.map((d) => ({ event: d.value, streamSeq: d.streamSeq })),
      position,
    );
    this.applied = Math.max(this.applied, position);
    this.lastBatchAt = performance.now();
  }
}
