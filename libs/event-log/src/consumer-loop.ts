import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { Logger, type LoggerService } from '@nestjs/common';
import {
  AckPolicy,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  nanos,
  type NatsConnection,
} from 'nats';
import { recordDeadLetter } from './dead-letter';
import { retryTransient } from './retry';
import { ThrottledLog } from './throttled-log';

/** One decoded message handed to a handler. */
export interface Delivery<T> {
  /** The decoded payload. */
  value: T;
  /** Stream sequence of the message. */
  streamSeq: number;
  /** Subject of the message. */
  subject: string;
  /** 1 on first delivery, then counts redeliveries. */
  deliveryCount: number;
  /** The raw JetStream message (headers, etc.); never ack it yourself, the loop does. */
  msg: JsMsg;
}

/** Configuration of a {@link ConsumerLoop}. */
export interface ConsumerLoopOptions<T> {
  /** Stream to consume. */
  stream: string;
  /** Durable consumer name (created if missing, updated when its settings changed). */
  durable: string;
  /** Optional subject filter of the consumer. */
  filterSubject?: string;
  /** Turns a message into a value; a throw marks the message poison at once (it can never succeed). */
  decode: (m: JsMsg) => T;
  /** Per-message handler, run with up to `concurrency` messages at a time. */
  handle?: (d: Delivery<T>) => Promise<void>;
  /** Batch handler (all or nothing); when it throws, the batch is retried one message at a time. */
  handleBatch?: (ds: Delivery<T>[]) => Promise<void>;
  /**
   * Errors that say "the infrastructure is down, not the message is bad" (e.g. a database outage):
   * retried with backoff for as long as it takes, never counted toward poison (default: none).
   */
  isTransient?: (err: unknown) => boolean;
  /** Messages taken per batch (default 256). */
  batchSize?: number;
  /** Per-message handlers in flight at once (default 64). */
  concurrency?: number;
  /** Server-side bound on unacknowledged messages (default 4 × batchSize). */
  maxAckPending?: number;
  /** Ack wait in ms; handlers running longer are kept alive with `working()` (default 30 s). */
  ackWaitMs?: number;
  /** Failures after which a message is recorded as poison and terminated (default 5). */
  maxFailures?: number;
  /** First and largest nak delay in ms; the delay doubles with each failure (default 200 / 10,000). */
  backoffMs?: { initial: number; max: number };
  /**
   * How long a message that found no batch waiting may wait for more to arrive, in ms (default 5). A
   * batch is otherwise whatever arrived while the previous one ran: it never waits to fill.
   */
  lingerMs?: number;
  /** Logger (default a Nest Logger named after the durable). */
  logger?: LoggerService;
}

/** Counters of a {@link ConsumerLoop}, for metrics and tests. */
export interface ConsumerLoopStats {
  /** Messages acked after their handler succeeded. */
  acked: number;
  /** Handler failures (each one a nak). */
  failures: number;
  /** Messages recorded as poison and terminated. */
  poisoned: number;
  /** Batches processed. */
  batches: number;
}

/** A message taken from the consumer, decoded on arrival. */
interface Received<T> {
  msg: JsMsg;
  /** When it arrived (performance.now()). */
  at: number;
  value?: T;
  /** Why it could not be decoded (poison). */
  undecodable?: string;
}

/**
 * A durable pull-consumer loop: takes messages in batches, runs the handler, acks only after the
 * handler succeeded, naks with exponential backoff on failure, records poison messages (undecodable,
 * or failing `maxFailures` times) in IM_DEADLETTER before terminating them, survives server restarts,
 * and on `stop()` finishes the batch in hand, and the messages already delivered behind it, before
 * returning.
 */
export class ConsumerLoop<T> {
  /** Live counters. */
  readonly stats: ConsumerLoopStats = { acked: 0, failures: 0, poisoned: 0, batches: 0 };
  private readonly js: JetStreamClient;
  private readonly log: LoggerService;
  private readonly throttled: ThrottledLog;
  private readonly o: Required<
    Omit<ConsumerLoopOptions<T>, 'handle' | 'handleBatch' | 'filterSubject' | 'logger' | 'isTransient'>
  >;
  private stopping = false;
  private messages?: ConsumerMessages;
  private running?: Promise<void>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: ConsumerLoopOptions<T>,
  ) {
    if (!opts.handle === !opts.handleBatch)
      throw new Error('ConsumerLoop needs exactly one of handle, handleBatch');
    this.js = nc.jetstream();
    this.log = opts.logger ?? new Logger(`consumer:${opts.durable}`);
    this.throttled = new ThrottledLog(this.log);
    const batchSize = opts.batchSize ?? 256;
    this.o = {
      stream: opts.stream,
      durable: opts.durable,
      decode: opts.decode,
      batchSize,
      concurrency: opts.concurrency ?? 64,
      maxAckPending: opts.maxAckPending ?? batchSize * 4,
      ackWaitMs: opts.ackWaitMs ?? 30_000,
      maxFailures: opts.maxFailures ?? 5,
      backoffMs: opts.backoffMs ?? { initial: 200, max: 10_000 },
      lingerMs: opts.lingerMs ?? 5,
    };
  }

  /** Ensures the durable consumer exists with these settings and starts consuming in the background. */
  async start(): Promise<void> {
    const jsm = await this.nc.jetstreamManager({ checkAPI: false });
    await retryTransient(`creating consumer ${this.o.durable}`, () => this.ensureConsumer(jsm), this.log);
    this.running = this.run();
  }

  /**
   * Stops taking messages, finishes and acks the batch in hand and those already delivered behind it
   * (at most maxAckPending), and flushes the acks to the server.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await this.running;
    if (!this.nc.isClosed()) await this.nc.flush().catch(() => undefined);
  }

  /**
   * The durable consumer's ack floor: every message at or below it was acked or terminated (poison),
   * by this loop or another instance on the same durable.
   */
  async ackFloor(): Promise<number> {
    const jsm = await this.nc.jetstreamManager({ checkAPI: false });
    return (await jsm.consumers.info(this.o.stream, this.o.durable)).ack_floor.stream_seq;
  }

  /** Deletes a durable consumer (a rebuild starts it afresh); a missing one is not an error. */
  static async deleteDurable(nc: NatsConnection, stream: string, durable: string): Promise<void> {
    const jsm = await nc.jetstreamManager({ checkAPI: false });
    await jsm.consumers.delete(stream, durable).catch((err: { code?: string }) => {
      if (err.code !== '404') throw err;
    });
  }

  private async ensureConsumer(jsm: JetStreamManager): Promise<void> {
    const config: Partial<ConsumerConfig> = {
      durable_name: this.o.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(this.o.ackWaitMs),
      max_deliver: -1,
      max_ack_pending: this.o.maxAckPending,
      ...(this.opts.filterSubject ? { filter_subject: this.opts.filterSubject } : {}),
    };
    try {
      await jsm.consumers.info(this.o.stream, this.o.durable);
      await jsm.consumers.update(this.o.stream, this.o.durable, {
        ack_wait: config.ack_wait,
        max_deliver: config.max_deliver,
        max_ack_pending: config.max_ack_pending,
      });
    } catch (err) {
      if ((err as { code?: string }).code !== '404') throw err;
      await jsm.consumers.add(this.o.stream, config);
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const consumer = await this.js.consumers.get(this.o.stream, this.o.durable);
        this.messages = await consumer.consume({ max_messages: this.o.batchSize });
        if (this.stopping) this.messages.stop();
        await this.pump(this.messages);
      } catch (err) {
        if (this.stopping) break;
        this.throttled.warn(
          'consume',
          `consumer ${this.o.durable} interrupted: ${(err as Error).message}; retrying`,
        );
        await sleep(500);
      }
    }
  }

  /**
   * Two loops over one queue. The reader takes every message as it arrives and decodes it, so the
   * client's refill pulls go out at once and the next batch is gathered and decoded while the current
   * one is handled. The batcher hands on whatever is queued the moment the previous batch finished (up
   * to batchSize): a batch never waits to fill, it grows with the load instead. A message that finds
   * the queue empty waits at most `lingerMs` for company. Batches run one at a time, in arrival order.
   */
  private async pump(messages: ConsumerMessages): Promise<void> {
    const queue: Received<T>[] = [];
    let ended = false;
    let wake: (() => void) | undefined;
    const signal = () => {
      const w = wake;
      wake = undefined;
      w?.();
    };
    const reader = (async () => {
      try {
        for await (const m of messages) {
          queue.push(this.receive(m));
          signal();
        }
      } finally {
        ended = true;
        signal();
      }
    })();
    reader.catch(() => undefined); // awaited below; never an unhandled rejection meanwhile
    // Messages waiting behind a long batch must not reach their ack wait either.
    const keepAlive = setInterval(
      () => queue.forEach((r) => r.msg.working()),
      Math.max(1_000, this.o.ackWaitMs / 3),
    );
    try {
      // Until the consume ended (stop() ends it once the client's buffer is drained) and the queue is
      // empty: what was delivered to this instance is handled by it. Given back with a nak, it could be
      // redelivered to this instance's pull request that is still open on the server, nobody reading it.
      for (;;) {
        if (queue.length === 0) {
          if (ended) break;
          await new Promise<void>((resolve) => (wake = resolve));
          continue;
        }
        const linger = this.o.lingerMs - (performance.now() - queue[0].at);
        if (queue.length < this.o.batchSize && linger > 0 && !ended) await sleep(linger);
        // Woken by the first message of a burst: the rest are parsed already, or their bytes wait on the
        // socket. One turn of the event loop takes them too, instead of a batch of one.
        else if (queue.length < this.o.batchSize && !ended) await nextTurn();
        await this.process(queue.splice(0, this.o.batchSize));
      }
    } finally {
      clearInterval(keepAlive);
      if (!ended) messages.stop(); // a failed batch: the consume is started again by run()
      await reader.catch(() => undefined);
    }
    await reader; // the consume's own failure, if any, for run() to retry
  }

  private receive(m: JsMsg): Received<T> {
    try {
      return { msg: m, at: performance.now(), value: this.o.decode(m) };
    } catch (err) {
      return { msg: m, at: performance.now(), undecodable: (err as Error).message };
    }
  }

  private async process(batch: Received<T>[]): Promise<void> {
    this.stats.batches++;
    const keepAlive = setInterval(
      () => batch.forEach((r) => r.msg.working()),
      Math.max(1_000, this.o.ackWaitMs / 3),
    );
    try {
      const deliveries: Delivery<T>[] = [];
      for (const r of batch) {
        const m = r.msg;
        if (r.undecodable !== undefined) await this.poison(m, `undecodable: ${r.undecodable}`);
        else {
          deliveries.push({
            value: r.value as T,
            streamSeq: m.seq,
            subject: m.subject,
            deliveryCount: m.info.redeliveryCount,
            msg: m,
          });
        }
      }
      if (this.opts.handleBatch) await this.runBatch(this.opts.handleBatch, deliveries);
      else await this.runEach(this.opts.handle!, deliveries);
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async runBatch(handle: (ds: Delivery<T>[]) => Promise<void>, ds: Delivery<T>[]): Promise<void> {
    if (ds.length === 0) return;
    try {
      await handle(ds);
      ds.forEach((d) => this.ack(d));
      return;
    } catch (err) {
      if (ds.length === 1) return this.failed(ds[0], err);
    }
    // Isolate the culprit: the others succeed one by one, only the failing message is retried.
    for (const d of ds) {
      try {
        await handle([d]);
        this.ack(d);
      } catch (err) {
        await this.failed(d, err);
      }
    }
  }

  private async runEach(handle: (d: Delivery<T>) => Promise<void>, ds: Delivery<T>[]): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < ds.length) {
        const d = ds[next++];
        try {
          await handle(d);
          this.ack(d);
        } catch (err) {
          await this.failed(d, err);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.o.concurrency, ds.length) }, worker));
  }

  private ack(d: Delivery<T>): void {
    d.msg.ack();
    this.stats.acked++;
  }

  private async failed(d: Delivery<T>, err: unknown): Promise<void> {
    this.stats.failures++;
    const reason = (err as Error)?.message ?? String(err);
    if (this.opts.isTransient?.(err)) {
      this.throttled.warn('transient', `${this.o.durable} waiting for infrastructure: ${reason}`);
      d.msg.nak(Math.min(this.o.backoffMs.initial * 2 ** (d.deliveryCount - 1), this.o.backoffMs.max));
      return;
    }
    if (d.deliveryCount >= this.o.maxFailures) {
      await this.poison(d.msg, `handler failed ${d.deliveryCount} times: ${reason}`);
      return;
    }
    const delay = Math.min(this.o.backoffMs.initial * 2 ** (d.deliveryCount - 1), this.o.backoffMs.max);
    this.throttled.warn(
      'handler',
      `handler failed on ${d.subject} #${d.streamSeq} (try ${d.deliveryCount}): ${reason}`,
    );
    d.msg.nak(delay);
  }

  private async poison(m: JsMsg, reason: string): Promise<void> {
    try {
      await recordDeadLetter(this.js, this.o.stream, this.o.durable, m, reason);
    } catch (err) {
      // Never drop a message we could not record: retry it later instead.
      this.throttled.warn(
        'dlq',
        `cannot record poison #${m.seq} yet (${(err as Error).message}); will retry`,
      );
      m.nak(this.o.backoffMs.max);
      return;
    }
    // No reason on the TERM: nats-server 2.9 does not recognise `+TERM <reason>` (2.10 does) and would
    // leave the message pending, to be redelivered after ack wait. The reason is in the dead letter.
    m.term();
    this.stats.poisoned++;
    this.log.error(
      `poison message ${m.subject} #${m.seq} recorded in IM_DEADLETTER and terminated: ${reason}`,
    );
  }
}
