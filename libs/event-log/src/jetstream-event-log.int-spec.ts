import { type JetStreamManager, type NatsConnection, StorageType } from 'nats';
import { sharedInfra, uniqueName } from '@parley/testing';
import { connectToNats } from './connection';
import { ConcurrencyError } from './errors';
import { JetStreamEventLog } from './jetstream-event-log';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

describe('JetStreamEventLog (real nats-server)', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let log: JetStreamEventLog;
  let stream: string;
  let prefix: string;

  beforeAll(async () => {
    nc = await connectToNats({ servers: sharedInfra().natsUrl, name: 'event-log-test' });
    jsm = await nc.jetstreamManager();
    stream = uniqueName('ELOG').toUpperCase();
    prefix = stream.toLowerCase();
    await jsm.streams.add({
      name: stream,
      subjects: [`${prefix}.>`],
      storage: StorageType.File,
      allow_direct: true,
    });
    log = new JetStreamEventLog(nc, jsm, { stream });
  });

  afterAll(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.drain();
  });

  const messagesIn = async () => (await jsm.streams.info(stream)).state.messages;

  it('append › an expected sequence of 0 succeeds on an empty subject and fails on a non-empty one', async () => {
    const subject = `${prefix}.conv.empty`;
    const first = await log.append(subject, enc('a'), { expectedLastSubjectSeq: 0 });
    expect(first.duplicate).toBe(false);
    await expect(log.append(subject, enc('b'), { expectedLastSubjectSeq: 0 })).rejects.toBeInstanceOf(
      ConcurrencyError,
    );
  });

  it('append › a stale expected sequence is rejected with ConcurrencyError and nothing is written', async () => {
    const subject = `${prefix}.conv.stale`;
    const a = await log.append(subject, enc('1'), { expectedLastSubjectSeq: 0 });
    const b = await log.append(subject, enc('2'), { expectedLastSubjectSeq: a.streamSeq });
    const before = await messagesIn();

    const stale = log.append(subject, enc('3'), { expectedLastSubjectSeq: a.streamSeq });
    await expect(stale).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(stale).rejects.toMatchObject({ subject, expectedLastSubjectSeq: a.streamSeq });

    expect(await messagesIn()).toBe(before);
    const events = await log.readSubject(subject);
    expect(events.map((e) => dec(e.data))).toEqual(['1', '2']);
    expect(events.map((e) => e.streamSeq)).toEqual([a.streamSeq, b.streamSeq]);
  });

  it('append › the same Nats-Msg-Id published twice is stored once and answers the original sequence', async () => {
    const subject = `${prefix}.conv.dup`;
    const before = await messagesIn();
    const first = await log.append(subject, enc('x'), { msgId: 'cmd-1', expectedLastSubjectSeq: 0 });
    // Dedup is checked before the expectation: the retry with a now-stale expectation is still a duplicate.
    const again = await log.append(subject, enc('x'), { msgId: 'cmd-1', expectedLastSubjectSeq: 0 });
    expect(again).toEqual({ streamSeq: first.streamSeq, duplicate: true });
    expect(await messagesIn()).toBe(before + 1);
    expect(await log.readSubject(subject)).toHaveLength(1);
  });

  it('readLast › returns the last event of a subject, or undefined when it has none', async () => {
    const subject = `${prefix}.conv.last`;
    expect(await log.readLast(subject)).toBeUndefined();
    await log.append(subject, enc('one'));
    const two = await log.append(subject, enc('two'));
    const last = await log.readLast(subject);
    expect(last?.streamSeq).toBe(two.streamSeq);
    expect(dec(last!.data)).toBe('two');
  });

  it('readNext › the first event of a subject at or after a position, from any replica; readLast likewise', async () => {
    const subject = `${prefix}.conv.next`;
    expect(await log.readNext(subject, 1)).toBeUndefined();
    const a = await log.append(subject, enc('a'));
    await log.append(`${prefix}.conv.next-other`, enc('x'));
    const b = await log.append(subject, enc('b'));
    expect((await log.readNext(subject, 1))?.streamSeq).toBe(a.streamSeq);
    const next = await log.readNext(subject, a.streamSeq + 1);
    expect([next?.streamSeq, dec(next!.data), next?.subject]).toEqual([b.streamSeq, 'b', subject]);
    expect(await log.readNext(subject, b.streamSeq + 1)).toBeUndefined();
    expect((await log.readLast(subject, { anyReplica: true }))?.streamSeq).toBe(b.streamSeq);
  });

  it('replay › every event of every subject between two positions, in order; readFrom › at most max of them', async () => {
    const first = await log.append(`${prefix}.conv.replay-a`, enc('1'));
    await log.append(`${prefix}.conv.replay-b`, enc('2'));
    const third = await log.append(`${prefix}.conv.replay-a`, enc('3'));
    await log.append(`${prefix}.conv.replay-c`, enc('4'));
    const seen: string[] = [];
    for await (const e of log.replay(first.streamSeq, third.streamSeq))
      seen.push(`${e.streamSeq}:${dec(e.data)}`);
    expect(seen).toEqual([`${first.streamSeq}:1`, `${first.streamSeq + 1}:2`, `${third.streamSeq}:3`]);
    const some = await log.readFrom(first.streamSeq, 2);
    expect(some.map((e) => dec(e.data))).toEqual(['1', '2']);
    const { last } = await log.bounds();
    expect((await log.readFrom(first.streamSeq, 100)).map((e) => e.streamSeq).at(-1)).toBe(last);
  });

  it('readSubject › returns exactly one subject’s 10,000 events in order among 100,000 others', async () => {
    const target = `${prefix}.conv.big`;
    const js = nc.jetstream();
    let inFlight: Array<Promise<unknown>> = [];
    for (let i = 0; i < 110_000; i++) {
      // Every 11th message belongs to the target subject: 10,000 of them, interleaved with 100,000 others.
      const mine = i % 11 === 0;
      const subject = mine ? target : `${prefix}.conv.other${i % 97}`;
      inFlight.push(js.publish(subject, enc(mine ? `m${i / 11}` : `o${i}`)));
      if (inFlight.length >= 256) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);

    const events = await log.readSubject(target);
    expect(events).toHaveLength(10_000);
    expect(events.every((e, i) => dec(e.data) === `m${i}` && e.subject === target)).toBe(true);
    expect(events.every((e, i) => i === 0 || e.streamSeq > events[i - 1].streamSeq)).toBe(true);

    const tail = await log.readSubject(target, events[9_990].streamSeq);
    expect(tail.map((e) => dec(e.data))).toEqual(events.slice(9_990).map((e) => dec(e.data)));
    expect(await log.readSubject(target, events[9_999].streamSeq + 1)).toEqual([]);
  }, 180_000);
});
