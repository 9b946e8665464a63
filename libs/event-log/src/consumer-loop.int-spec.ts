import { type JetStreamClient, type JetStreamManager, type NatsConnection, StorageType } from 'nats';
import { NatsServer, waitFor } from '@parley/testing';
import { connectToNats } from './connection';
import { ConsumerLoop, type Delivery } from './consumer-loop';
import { decodeDeadLetter, deadLetterSubject } from './dead-letter';
import { DEAD_LETTER_STREAM, ensureStreams } from './streams';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Watches the acks a consumer sends ($JS.ACK.<stream>.<durable>.<delivered>.<sseq>…) on core NATS,
 * so a test can check that no message was acked before its handler finished.
 */
function watchAcks(
  nc: NatsConnection,
  stream: string,
  durable: string,
  onAck: (streamSeq: number, kind: string) => void,
) {
  return nc.subscribe(`$JS.ACK.${stream}.${durable}.>`, {
    callback: (_err, m) => onAck(Number(m.subject.split('.')[5]), dec(m.data)),
  });
}

describe('ConsumerLoop (own nats-server)', () => {
  let server: NatsServer;
  let nc: NatsConnection;
  let observer: NatsConnection;
  let jsm: JetStreamManager;
  let js: JetStreamClient;
  const loops: Array<ConsumerLoop<unknown>> = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    nc = await connectToNats({ servers: server.url, name: 'loop-test' });
    observer = await connectToNats({ servers: server.url, name: 'ack-observer' });
    jsm = await nc.jetstreamManager();
    js = nc.jetstream();
    await ensureStreams(jsm, { replicas: 1 });
  });

  afterEach(async () => {
    await Promise.all(loops.splice(0).map((l) => l.stop()));
  });

  afterAll(async () => {
    await nc?.close();
    await observer?.close();
    await server?.dispose();
  });

  async function makeStream(name: string, count: number): Promise<void> {
    await jsm.streams.add({ name, subjects: [`${name.toLowerCase()}.>`], storage: StorageType.File });
    let batch: Array<Promise<unknown>> = [];
    for (let i = 1; i <= count; i++) {
      batch.push(js.publish(`${name.toLowerCase()}.m`, enc(String(i))));
      if (batch.length === 256) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
  }

  function loop<T>(opts: ConstructorParameters<typeof ConsumerLoop<T>>[1]): ConsumerLoop<T> {
    const l = new ConsumerLoop<T>(nc, opts);
    loops.push(l as ConsumerLoop<unknown>);
    return l;
  }

  it('survives nats-server killed with -9 and restarted mid-stream: every message handled, none acked early', async () => {
    const stream = 'KILLTEST';
    const total = 3_000;
    await makeStream(stream, total);

    const finished = new Set<number>();
    const handledCount = new Map<number, number>();
    const ackedBeforeFinish: number[] = [];
    watchAcks(observer, stream, 'worker', (seq, kind) => {
      if (kind === '+ACK' && !finished.has(seq)) ackedBeforeFinish.push(seq);
    });

    const l = loop<number>({
      stream,
      durable: 'worker',
      decode: (m) => Number(dec(m.data)),
      batchSize: 64,
      ackWaitMs: 5_000,
      handle: async (d) => {
        await sleep(1);
        handledCount.set(d.value, (handledCount.get(d.value) ?? 0) + 1);
        finished.add(d.streamSeq);
      },
    });
    await l.start();

    await waitFor(() => handledCount.size >= 1_000, { timeoutMs: 60_000, message: 'first 1,000 handled' });
    await server.kill();
    const handledWhenKilled = handledCount.size;
    await sleep(1_000);
    await server.restart();

    await waitFor(() => handledCount.size === total, { timeoutMs: 90_000, message: 'all messages handled' });
    expect(handledWhenKilled).toBeLessThan(total);
    for (let i = 1; i <= total; i++) expect(handledCount.get(i)).toBeGreaterThanOrEqual(1);
    expect(ackedBeforeFinish).toEqual([]);
    await waitFor(async () => (await jsm.consumers.info(stream, 'worker')).num_ack_pending === 0, {
      timeoutMs: 30_000,
      message: 'all acked',
    });
  }, 240_000);

  it('terminates and records a message whose handler throws 5 times, and later messages still flow', async () => {
    const stream = 'POISONTEST';
    await makeStream(stream, 50);
    const attempts = new Map<number, number>();
    const l = loop<number>({
      stream,
      durable: 'worker',
      decode: (m) => Number(dec(m.data)),
      maxFailures: 5,
      backoffMs: { initial: 10, max: 50 },
      handle: async (d) => {
        attempts.set(d.value, (attempts.get(d.value) ?? 0) + 1);
        if (d.value === 7) throw new Error('boom on 7');
      },
    });
    await l.start();

    await waitFor(() => l.stats.poisoned === 1 && attempts.size === 50, {
      timeoutMs: 30_000,
      message: 'poisoned',
    });
    expect(attempts.get(7)).toBe(5);
    for (let i = 1; i <= 50; i++) if (i !== 7) expect(attempts.get(i)).toBe(1);

    const dl = await jsm.streams.getMessage(DEAD_LETTER_STREAM, {
      last_by_subj: deadLetterSubject('worker'),
    });
    const record = decodeDeadLetter(dl.data);
    expect(record).toMatchObject({ stream, consumer: 'worker', streamSeq: 7, deliveries: 5 });
    expect(record.reason).toContain('boom on 7');
    expect(dec(Buffer.from(record.dataBase64, 'base64'))).toBe('7');

    // A terminated message is never redelivered.
    await sleep(500);
    expect(attempts.get(7)).toBe(5);
    await waitFor(async () => (await jsm.consumers.info(stream, 'worker')).num_ack_pending === 0, {
      timeoutMs: 5_000,
      message: 'nothing pending',
    });
  }, 60_000);

  it('records an undecodable message at once without calling the handler', async () => {
    const stream = 'UNDECODABLE';
    await makeStream(stream, 10);
    const seen: number[] = [];
    const l = loop<number>({
      stream,
      durable: 'strict',
      decode: (m) => {
        const n = Number(dec(m.data));
        if (n === 3) throw new Error('not a number I accept');
        return n;
      },
      handle: async (d) => {
        seen.push(d.value);
      },
    });
    await l.start();
    await waitFor(() => seen.length === 9 && l.stats.poisoned === 1, {
      timeoutMs: 20_000,
      message: 'flowed',
    });
    expect(seen).not.toContain(3);
    const dl = await jsm.streams.getMessage(DEAD_LETTER_STREAM, {
      last_by_subj: deadLetterSubject('strict'),
    });
    expect(decodeDeadLetter(dl.data)).toMatchObject({ streamSeq: 3, deliveries: 1 });
  }, 60_000);

  it('batch mode › a failing batch is retried one message at a time so only the culprit is held back', async () => {
    const stream = 'BATCHTEST';
    await makeStream(stream, 200);
    const committed = new Map<number, number>();
    const l = loop<number>({
      stream,
      durable: 'batcher',
      decode: (m) => Number(dec(m.data)),
      batchSize: 50,
      maxFailures: 3,
      backoffMs: { initial: 10, max: 20 },
      handleBatch: async (ds: Delivery<number>[]) => {
        if (ds.some((d) => d.value === 42)) throw new Error('42 is poison');
        ds.forEach((d) => committed.set(d.value, (committed.get(d.value) ?? 0) + 1));
      },
    });
    await l.start();
    await waitFor(() => committed.size === 199 && l.stats.poisoned === 1, {
      timeoutMs: 30_000,
      message: 'batched',
    });
    expect(committed.has(42)).toBe(false);
    expect([...committed.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);

  it('batch mode › a trickle is handled as it arrives, never held back waiting for a full batch', async () => {
    const stream = 'TRICKLETEST';
    await jsm.streams.add({ name: stream, subjects: ['trickletest.>'], storage: StorageType.File });
    const batches: number[][] = [];
    const l = loop<number>({
      stream,
      durable: 'trickle',
      decode: (m) => Number(dec(m.data)),
      batchSize: 500,
      lingerMs: 10,
      handleBatch: async (ds) => {
        batches.push(ds.map((d) => d.value));
      },
    });
    await l.start();
    // One message every ~2 ms, each gap shorter than the linger: a linger restarted by every arrival
    // would hold the first batch until the trickle stopped.
    let handledBeforeLast = 0;
    for (let i = 1; i <= 300; i++) {
      await js.publish('trickletest.m', enc(String(i)));
      if (i === 300) handledBeforeLast = batches.flat().length;
      await sleep(2);
    }
    await waitFor(() => batches.flat().length === 300, { timeoutMs: 20_000, message: 'all handled' });
    expect(handledBeforeLast).toBeGreaterThan(0);
    expect(batches.length).toBeGreaterThan(1);
    expect(batches.flat()).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
  }, 60_000);

  it('batch mode › while a batch is handled the next ones are fetched, and each is what arrived meanwhile', async () => {
    const stream = 'PIPETEST';
    await jsm.streams.add({ name: stream, subjects: ['pipetest.>'], storage: StorageType.File });
    const batches: number[][] = [];
    let release!: () => void;
    const firstHeld = new Promise<void>((r) => (release = r));
    const l = loop<number>({
      stream,
      durable: 'pipe',
      decode: (m) => Number(dec(m.data)),
      batchSize: 10, // pulls of 10, at most 40 unacked
      handleBatch: async (ds) => {
        batches.push(ds.map((d) => d.value));
        if (batches.length === 1) await firstHeld;
      },
    });
    await l.start();
    try {
      await js.publish('pipetest.m', enc('1'));
      await waitFor(() => batches.length === 1, { timeoutMs: 10_000, message: 'first batch' });
      await Promise.all(Array.from({ length: 59 }, (_, i) => js.publish('pipetest.m', enc(String(i + 2)))));
      // The client keeps pulling while the first batch is in hand: up to max ack pending is delivered.
      await waitFor(async () => (await jsm.consumers.info(stream, 'pipe')).num_ack_pending === 40, {
        timeoutMs: 10_000,
        message: 'next batches fetched while the first is in hand',
      });
    } finally {
      release();
    }
    await waitFor(() => batches.flat().length === 60, { timeoutMs: 10_000, message: 'all handled' });
    expect(batches[0]).toEqual([1]);
    expect(batches[1]).toEqual(Array.from({ length: 10 }, (_, i) => i + 2)); // full: they were all there
    expect(batches.flat()).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
  }, 30_000);

  it('stop() finishes the batch in hand and the messages delivered behind it, and acks them all', async () => {
    const stream = 'HANDOVER';
    await jsm.streams.add({ name: stream, subjects: ['handover.>'], storage: StorageType.File });
    const handled: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const l = new ConsumerLoop<number>(nc, {
      stream,
      durable: 'handover',
      decode: (m) => Number(dec(m.data)),
      ackWaitMs: 30_000,
      handleBatch: async (ds) => {
        handled.push(...ds.map((d) => d.value));
        await held;
      },
    });
    await l.start();
    try {
      await js.publish('handover.m', enc('1'));
      await waitFor(() => handled.length === 1, { timeoutMs: 10_000, message: 'batch in hand' });
      await Promise.all(Array.from({ length: 20 }, (_, i) => js.publish('handover.m', enc(String(i + 2)))));
      await sleep(300); // delivered and queued behind the batch in hand
    } finally {
      const stopping = l.stop();
      release();
      await stopping;
    }
    expect(handled).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
    // Acked, not left to be redelivered after the ack wait.
    expect((await jsm.consumers.info(stream, 'handover')).num_ack_pending).toBe(0);
  }, 30_000);

  it('stop() finishes the message in hand and acks it before returning', async () => {
    const stream = 'DRAINTEST';
    await makeStream(stream, 1);
    const acked: number[] = [];
    watchAcks(observer, stream, 'slow', (seq, kind) => kind === '+ACK' && acked.push(seq));
    let started = false;
    let finished = false;
    const l = new ConsumerLoop<number>(nc, {
      stream,
      durable: 'slow',
      decode: (m) => Number(dec(m.data)),
      handle: async () => {
        started = true;
        await sleep(1_000);
        finished = true;
      },
    });
    await l.start();
    await waitFor(() => started, { timeoutMs: 10_000, message: 'started' });
    await l.stop();
    expect(finished).toBe(true);
    await observer.flush();
    await waitFor(() => acked.includes(1), { timeoutMs: 5_000, message: 'ack observed' });
    expect((await jsm.consumers.info(stream, 'slow')).num_ack_pending).toBe(0);
  }, 30_000);
});
