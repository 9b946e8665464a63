import { type KV, type NatsConnection } from 'nats';
import { conversationEventSubject, decodeReply, userEventSubject } from '@parley/contracts';
import { CONVERSATION_SNAPSHOT_VERSION } from '@parley/domain';
import {
  connectToNats,
  JetStreamEventLog,
  JetStreamSnapshotStore,
  SNAPSHOTS_BUCKET,
  snapshotKey,
} from '@parley/event-log';
import { NatsServer } from '@parley/testing';
import { startTestActorHost, type TestActorHost } from './actor-host.fixture';

const enc = new TextEncoder();

describe('actor snapshots (own nats-server)', () => {
  let server: NatsServer;
  let client: NatsConnection;
  let log: JetStreamEventLog;
  let store: JetStreamSnapshotStore;
  const hosts: TestActorHost[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    client = await connectToNats({ servers: server.url, name: 'client' });
    log = await JetStreamEventLog.create(client);
    store = new JetStreamSnapshotStore(client);
  });
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.stop()));
  });
  afterAll(async () => {
    await client?.close();
    await server?.dispose();
  });

  async function host(env: Record<string, string> = {}): Promise<TestActorHost> {
    const h = await startTestActorHost(server.url, { IM_SNAPSHOT_EVERY: '50', ...env });
    hosts.push(h);
    return h;
  }
  async function stop(h: TestActorHost): Promise<void> {
    hosts.splice(hosts.indexOf(h), 1);
    await h.stop();
  }
  async function call<T = Record<string, unknown>>(subject: string, body: unknown): Promise<T> {
    const m = await client.request(subject, enc.encode(JSON.stringify(body)), { timeout: 15_000 });
    const reply = decodeReply<T>(m.data);
    if (!reply.ok) throw new Error(`${subject}: ${reply.error.code} ${reply.error.message}`);
    return reply.result;
  }
  const send = (gid: string, from: string, clientMsgId: string) =>
    call<{ seq: number; duplicate: boolean; streamSeq: number }>(`im.cmd.conv.g:${gid}.send`, {
      from,
      clientMsgId,
      kind: 'text',
      body: `m ${clientMsgId}`,
    });
  async function group(gid: string, messages: number): Promise<void> {
    await call(`im.cmd.conv.g:${gid}.create`, { by: 'alice', name: gid, members: ['bob', 'carol'] });
    for (let i = 1; i <= messages; i++) await send(gid, i % 2 ? 'bob' : 'carol', `c${i}`);
  }
  async function kv(): Promise<KV> {
    return client.jetstream().views.kv(SNAPSHOTS_BUCKET);
  }
  async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  it('writes every N events off the command path; a new host starts from the snapshot and folds only the tail', async () => {
    const a = await host();
    await group('snap', 120);
    const subject = conversationEventSubject('g:snap');
    await until(
      'two snapshots',
      async () => (await store.position(subject)) > 0 && a.service.handler.snapshots!.stats.saved >= 2,
    );
    await stop(a);
    const saved = await store.position(subject);
    const last = (await log.readLast(subject))!.streamSeq;
    // The graceful stop saved the tail too (passivation): the snapshot is at the subject's end.
    expect(saved).toBe(last);

    const b = await host();
    expect(await send('snap', 'bob', 'c1')).toMatchObject({ seq: 1, duplicate: true });
    expect(await send('snap', 'carol', 'c120')).toMatchObject({ seq: 120, duplicate: true });
    expect(await send('snap', 'bob', 'new')).toMatchObject({ seq: 121, duplicate: false });
    expect(b.service.handler.snapshots!.stats).toMatchObject({ loaded: 1, ignored: 0 });
    // Recall and membership come from the snapshot too.
    await call('im.cmd.conv.g:snap.recall', { by: 'carol', seq: 2 });
    await expect(call('im.cmd.conv.g:snap.leave', { by: 'alice', userId: 'mallory' })).rejects.toThrow(
      /NOT_FOUND/,
    );
  });

  it('user actors snapshot their read positions', async () => {
    const a = await host({ IM_SNAPSHOT_EVERY: '5' });
    await group('reads', 10);
    for (let seq = 1; seq <= 10; seq++)
      await call('im.cmd.user.bob.read', { conversationId: 'g:reads', seq });
    await until('a user snapshot', async () => (await store.position(userEventSubject('bob'))) > 0);
    await stop(a);
    const b = await host({ IM_SNAPSHOT_EVERY: '5' });
    expect(await call('im.cmd.user.bob.read', { conversationId: 'g:reads', seq: 3 })).toMatchObject({
      readSeq: 10,
      unread: 0,
    });
    expect(b.service.handler.snapshots!.stats.loaded).toBeGreaterThanOrEqual(1);
  });

  describe('a bad snapshot is logged, ignored, and the actor answers from a full replay', () => {
    const subject = conversationEventSubject('g:bad');
    beforeAll(async () => {
      const a = await startTestActorHost(server.url, { IM_SNAPSHOT_EVERY: '0' });
      await group('bad', 30);
      await call('im.cmd.conv.g:other.create', { by: 'alice', name: 'o', members: [] });
      await a.stop();
    });
    async function answersAfter(damage: () => Promise<void>): Promise<void> {
      await damage();
      const h = await host({ IM_SNAPSHOT_EVERY: '0' });
      expect(await send('bad', 'bob', 'c29')).toMatchObject({ seq: 29, duplicate: true });
      expect(h.service.handler.snapshots!.stats).toMatchObject({ loaded: 0, ignored: 1 });
    }
    const valid = async (streamSeq: number, state: unknown = { garbage: true }) =>
      store.save(subject, { v: CONVERSATION_SNAPSHOT_VERSION, streamSeq, state });
    const reset = async () => (await kv()).purge(snapshotKey(subject));

    it('a corrupted value', async () => {
      await reset();
      await answersAfter(async () => {
        await (
          await kv()
        ).put(
          snapshotKey(subject),
          enc.encode('{"f":1,"v":1,"streamSeq":3,"bytes":4,"sha256":"x","chunks":0,"gen":"a"}\nzzzz'),
        );
      });
    });

    it('a state that does not fit its version', async () => {
      await reset();
      await answersAfter(async () => void (await valid((await log.readLast(subject))!.streamSeq)));
    });

    it('a snapshot from the future (beyond the stream)', async () => {
      await reset();
      const { last } = await log.bounds();
      await answersAfter(async () => void (await valid(last + 1_000)));
    });

    it("a position that holds another subject's event", async () => {
      await reset();
      const foreign = (await log.readLast(conversationEventSubject('g:other')))!.streamSeq;
      await answersAfter(async () => void (await valid(foreign)));
    });

    it('a missing bucket (deleted while a host runs): full replays, then saves create it again', async () => {
      const h = await host({ IM_SNAPSHOT_EVERY: '10' });
      await (await client.jetstreamManager()).streams.delete(`KV_${SNAPSHOTS_BUCKET}`);
      await group('nobucket', 25);
      expect(await send('nobucket', 'bob', 'c1')).toMatchObject({ seq: 1, duplicate: true });
      await until('the bucket is back with a snapshot', async () => {
        try {
          return (await store.position(conversationEventSubject('g:nobucket'))) > 0;
        } catch {
          return false;
        }
      });
      expect(h.service.handler.snapshots!.stats.saved).toBeGreaterThan(0);
    });
  });

  it('the store splits a large snapshot into chunks, reads it back whole, and never goes backwards', async () => {
    const small = new JetStreamSnapshotStore(client, { chunkBytes: 1_024 });
    const subject = conversationEventSubject('g:chunks');
    const big = { blob: Array.from({ length: 5_000 }, (_, i) => `${i}-${(i * 7_919) % 10_007}`) };
    expect(await small.save(subject, { v: 1, streamSeq: 10, state: big })).toBe(true);
    expect(await small.load(subject)).toEqual({ v: 1, streamSeq: 10, state: big });
    const keys = async () => {
      const out: string[] = [];
      for await (const k of await (await kv()).keys(`chunk.${snapshotKey(subject)}.>`)) out.push(k);
      return out;
    };
    const firstChunks = await keys();
    expect(firstChunks.length).toBeGreaterThan(1);
    expect(await small.save(subject, { v: 1, streamSeq: 9, state: { older: true } })).toBe(false);
    expect(await small.save(subject, { v: 1, streamSeq: 11, state: { ...big, newer: 1 } })).toBe(true);
    expect((await small.load(subject))?.streamSeq).toBe(11);
    // The previous generation's chunks are gone.
    expect((await keys()).filter((k) => firstChunks.includes(k))).toEqual([]);
    const listed: string[] = [];
    for await (const s of small.subjects()) listed.push(s);
    expect(listed).toContain(subject);
  });
});
