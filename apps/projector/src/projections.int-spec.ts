import { encodeEvent, type ParleyEvent } from '@parley/contracts';
import {
  connectToNats,
  DEAD_LETTER_STREAM,
  decodeDeadLetter,
  ensureStreams,
  EVENTS_STREAM,
} from '@parley/event-log';
import { createTestDatabase, NatsServer, sharedInfra, uniqueName } from '@parley/testing';
import { type JetStreamClient, type NatsConnection } from 'nats';
import { checkProjections } from './check';
import { rebuildProjection } from './rebuild';
import { generateEvents, publishEvents } from './testing/event-generator';
import { dumpMysql, dumpRedis, openHarness, type ProjectionHarness } from './testing/projection-harness';

describe('projections (own nats-server, shared MariaDB and Redis)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let lastSeq = 0;
  const harnesses: ProjectionHarness[] = [];

  async function harness(): Promise<ProjectionHarness> {
    const { mysqlUrl, redisUrl } = sharedInfra();
    const h = await openHarness(
      nc,
      await createTestDatabase(mysqlUrl, uniqueName('proj')),
      redisUrl,
      `${uniqueName('proj')}:`,
    );
    harnesses.push(h);
    return h;
  }

  beforeAll(async () => {
    nats = await NatsServer.start();
    nc = await connectToNats({ servers: nats.url, name: 'projections-test' });
    js = nc.jetstream();
    await ensureStreams(await nc.jetstreamManager(), { replicas: 1 });
    lastSeq = await publishEvents(js, generateEvents(5_000, { seed: 7 }));
  });

  afterAll(async () => {
    await Promise.allSettled(harnesses.map((h) => h.close()));
    await nc?.close();
    await nats?.dispose();
  });

  describe('5,000 generated events', () => {
    let a: ProjectionHarness;
    let dumpA: { mysql: unknown; redis: unknown };

    beforeAll(async () => {
      a = await harness();
      await a.start({ batchSize: 500 });
      await a.waitFor(lastSeq);
      await a.stop();
      dumpA = { mysql: await dumpMysql(a.db), redis: await dumpRedis(a.redis) };
    });

    it('gives the same MySQL rows and Redis keys with a batch size of 7', async () => {
      const b = await harness();
      await b.start({ batchSize: 7, suffix: '-b' });
      await b.waitFor(lastSeq);
      await b.stop();
      expect(await dumpMysql(b.db)).toEqual(dumpA.mysql);
      expect(await dumpRedis(b.redis)).toEqual(dumpA.redis);
    });

    it('changes nothing when the same events are projected a second time over the same state', async () => {
      const jsm = await nc.jetstreamManager();
      await jsm.consumers.delete(EVENTS_STREAM, 'projector-history');
      await jsm.consumers.delete(EVENTS_STREAM, 'projector-counters');
      await a.start({ batchSize: 128 });
      // The stored positions are already at the end: wait for the replay itself to be acked.
      const deadline = Date.now() + 60_000;
      while (a.runners.some((r) => r.stats.acked < lastSeq) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(a.runners.map((r) => r.stats.acked)).toEqual([lastSeq, lastSeq]);
      await a.stop();
      expect(await dumpMysql(a.db)).toEqual(dumpA.mysql);
      expect(await dumpRedis(a.redis)).toEqual(dumpA.redis);
    });

    it('agrees with the log (projection check) and a rebuild equals the live projection', async () => {
      const check = await checkProjections(nc, { db: a.db, redis: a.redis });
      expect(check.differences).toEqual([]);
      expect(check.upTo).toBe(lastSeq);

      await rebuildProjection(nc, a.history, { batchSize: 300 });
      await rebuildProjection(nc, a.counters, { batchSize: 300 });
      expect(await dumpMysql(a.db)).toEqual(dumpA.mysql);
      expect(await dumpRedis(a.redis)).toEqual(dumpA.redis);
    });

    it('check reports each difference', async () => {
      await a.db.dataSource.query('DELETE FROM messages ORDER BY conversation_id, seq LIMIT 1');
      await a.redis.client.hset(a.redis.keys.userReads('nobody'), 'g:none', '3');
      const check = await checkProjections(nc, { db: a.db, redis: a.redis, waitMs: 0 });
      expect(check.differences.map((d) => d.where)).toEqual([
        expect.stringMatching(/^mysql messages\[/),
        `redis ${a.redis.keys.userReads('nobody')}`,
      ]);
    });
  });

  describe('read model over live projections', () => {
    let h: ProjectionHarness;
    let at = Date.now() - 60_000;
    const gid = uniqueName('grp').replace(/[^A-Za-z0-9_-]/g, '');
    const cid = `g:${gid}`;

    async function append(...events: ParleyEvent[]): Promise<number> {
      let seq = 0;
      for (const e of events) {
        const subject =
          e.type === 'ReadMarked' ? `im.evt.user.${e.userId}` : `im.evt.conv.${e.conversationId}`;
        seq = (await js.publish(subject, encodeEvent(e))).seq;
      }
      await h.waitFor(seq);
      return seq;
    }
    const base = () => ({ v: 1 as const, conversationId: cid, at: (at += 10), commandId: `c${at}` });
    let seq = 0;
    const message = (from: string, mentions: string[] = []): ParleyEvent => ({
      ...base(),
      type: 'MessageSent',
      data: { seq: ++seq, from, clientMsgId: `m${seq}`, kind: 'text', body: `hello ${seq}`, mentions },
    });
    const read = (userId: string, readSeq: number): ParleyEvent => ({
      type: 'ReadMarked',
      v: 1,
      userId,
      at: (at += 10),
      commandId: `r${at}`,
      data: { conversationId: cid, readSeq },
    });
    const unreadOf = async (uid: string) =>
      (await h.readModel.unread(uid)).conversations.find((c) => c.conversationId === cid)?.unread;

    beforeAll(async () => {
      h = await harness();
      await h.start({ batchSize: 64, suffix: '-rm' });
      await h.waitFor(lastSeq);
      await append({
        ...base(),
        type: 'GroupCreated',
        data: { name: 'Team', owner: 'alice', members: ['alice', 'bob'] },
      });
      await append(...Array.from({ length: 100 }, () => message('alice')));
    });

    it('a member who joined at seq 100 gets history from 101 and unread counted from there', async () => {
      await append({
        ...base(),
        type: 'MembersJoined',
        data: { userIds: ['carol'], by: 'alice', joinSeq: 100 },
      });
      expect(await unreadOf('carol')).toBe(0);
      await append(...Array.from({ length: 5 }, () => message('alice')));
      expect(await unreadOf('carol')).toBe(5);
      expect(await unreadOf('bob')).toBe(105);

      const page = await h.readModel.history('carol', cid, { limit: 3 });
      expect(page.messages.map((m) => m.seq)).toEqual([103, 104, 105]);
      expect(page.nextBeforeSeq).toBe(103);
      const older = await h.readModel.history('carol', cid, { beforeSeq: 103, limit: 10 });
      expect(older.messages.map((m) => m.seq)).toEqual([101, 102]);
      expect(older.nextBeforeSeq).toBeUndefined();
      const fromStart = await h.readModel.history('carol', cid, { afterSeq: 0, limit: 2 });
      expect(fromStart.messages.map((m) => m.seq)).toEqual([101, 102]);
      expect(fromStart.nextAfterSeq).toBe(102);
      expect(fromStart.messages[0]).toEqual({
        conversationId: cid,
        seq: 101,
        streamSeq: expect.any(Number),
        from: 'alice',
        kind: 'text',
        body: 'hello 101',
        mentions: [],
        at: expect.any(Number),
        recalled: false,
      });
      await expect(h.readModel.history('mallory', cid)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      await expect(h.readModel.history('carol', 'g:nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });

      const sync = await h.readModel.sync('carol', { cursor: 0, limit: 4 });
      expect(sync.messages.map((m) => m.seq)).toEqual([101, 102, 103, 104]);
      expect(sync.hasMore).toBe(true);
      const rest = await h.readModel.sync('carol', { cursor: sync.cursor, limit: 4 });
      expect(rest.messages.filter((m) => m.conversationId === cid).map((m) => m.seq)).toEqual([105]);
    });

    it("a user's own message never counts as unread, and unread is never negative after leave and rejoin", async () => {
      await append(message('carol'));
      expect(await unreadOf('carol')).toBe(0);
      await append(message('alice'));
      expect(await unreadOf('carol')).toBe(1);

      await append(read('bob', 50));
      expect(await unreadOf('bob')).toBe(seq - 50);
      await append({
        ...base(),
        type: 'MemberLeft',
        data: { userId: 'bob', by: 'bob', atSeq: seq, reason: 'left' },
      });
      expect(await unreadOf('bob')).toBeUndefined();
      expect((await h.readModel.unread('bob')).total).toBe(0);
      await append(message('alice'), message('alice'));
      await append({ ...base(), type: 'MembersJoined', data: { userIds: ['bob'], by: 'bob', joinSeq: seq } });
      expect(await unreadOf('bob')).toBe(0);
      await append(message('alice'));
      expect(await unreadOf('bob')).toBe(1);
      await append(read('bob', 3)); // an old read mark below the rejoin
      expect(await unreadOf('bob')).toBe(1);
      await expect(h.readModel.history('bob', cid, { afterSeq: 0 })).resolves.toMatchObject({
        messages: [expect.objectContaining({ seq })],
      });
    });

    it('lists sessions by last activity with the last message, and recalls show as tombstones', async () => {
      const other = `g:${gid}x`;
      await append({
        ...base(),
        conversationId: other,
        type: 'GroupCreated',
        data: { name: 'Other', owner: 'bob', members: ['alice'] },
      });
      let sessions = (await h.readModel.sessions('alice')).conversations;
      expect(sessions.map((s) => s.conversationId).slice(0, 2)).toEqual([other, cid]);
      await append(message('bob'));
      sessions = (await h.readModel.sessions('alice')).conversations;
      expect(sessions[0]).toMatchObject({
        conversationId: cid,
        type: 'group',
        name: 'Team',
        lastSeq: seq,
        unread: 1,
        lastMessage: { seq, from: 'bob', body: `hello ${seq}`, recalled: false },
      });
      const synced = await h.readModel.sync('alice', { cursor: 0, limit: 1_000 });
      expect(synced.messages.find((m) => m.conversationId === cid && m.seq === seq)).toMatchObject({
        recalled: false,
      });
      await append({ ...base(), type: 'MessageRecalled', data: { seq, by: 'bob' } });
      // A device that synced the message before the recall gets it again, recalled, after its cursor.
      const again = await h.readModel.sync('alice', { cursor: synced.cursor });
      expect(again.messages).toEqual([
        expect.objectContaining({ conversationId: cid, seq, body: '', recalled: true }),
      ]);
      expect(again.cursor).toBeGreaterThan(synced.cursor);
      expect((await h.readModel.sync('alice', { cursor: again.cursor })).messages).toEqual([]);
      sessions = (await h.readModel.sessions('alice')).conversations;
      expect(sessions[0].lastMessage).toMatchObject({ seq, body: '', recalled: true });
      const page = await h.readModel.history('alice', cid, { limit: 1 });
      expect(page.messages[0]).toMatchObject({ seq, body: '', recalled: true });
      expect(await h.readModel.members(cid)).toEqual([
        { userId: 'alice', joinSeq: 0 },
        { userId: 'bob', joinSeq: 109 },
        { userId: 'carol', joinSeq: 100 },
      ]);
    });

    it('ranks hot groups by distinct speakers in the window, and waits for its own writes', async () => {
      const hot = `g:${gid}hot`;
      const now = Date.now();
      const hotEvents: ParleyEvent[] = [
        {
          v: 1,
          conversationId: hot,
          at: now - 1_000,
          commandId: 'h0',
          type: 'GroupCreated',
          data: { name: 'Hot', owner: 'x1', members: ['x2', 'x3'] },
        },
        ...['x1', 'x2', 'x3', 'x1'].map((from, i): ParleyEvent => ({
          v: 1,
          conversationId: hot,
          at: now - 900 + i,
          commandId: `h${i + 1}`,
          type: 'MessageSent',
          data: { seq: i + 1, from, clientMsgId: `h${i}`, kind: 'text', body: 'hi', mentions: [] },
        })),
      ];
      const last = await append(...hotEvents);
      const groups = await h.readModel.hotGroups({ limit: 3 });
      expect(groups[0]).toMatchObject({ conversationId: hot, name: 'Hot', speakers: 3 });
      // The generated groups spoke long ago (fixed 2025 event times): outside the window.
      expect(groups.every((g) => g.conversationId.startsWith(`g:${gid}`))).toBe(true);

      await expect(h.readModel.waitForProjections(last, { timeoutMs: 1_000 })).resolves.toBe(true);
      await expect(h.readModel.waitForProjections(last + 1_000, { timeoutMs: 100 })).resolves.toBe(false);
      expect(await h.readModel.position('history')).toBeGreaterThanOrEqual(last);
    });

    it('terminates and records a poison event while later events are still projected', async () => {
      const bad = await js.publish(
        `im.evt.conv.${cid}`,
        new TextEncoder().encode('{"type":"Nonsense","v":1}'),
      );
      const after = await append(message('alice'));
      expect(after).toBeGreaterThan(bad.seq);
      expect(await unreadOf('bob')).toBeGreaterThan(0);
      const history = await h.readModel.history('alice', cid, { limit: 1 });
      expect(history.messages[0].seq).toBe(seq);

      const jsm = await nc.jetstreamManager();
      const records: number[] = [];
      for (const durable of ['projector-history-rm', 'projector-counters-rm']) {
        const m = await jsm.streams.getMessage(DEAD_LETTER_STREAM, { last_by_subj: `im.dlq.${durable}` });
        const record = decodeDeadLetter(m.data);
        expect(record.reason).toMatch(/undecodable.*Nonsense/);
        records.push(record.streamSeq);
      }
      expect(records).toEqual([bad.seq, bad.seq]);
      expect(h.runners.map((r) => r.stats.poisoned)).toEqual([1, 1]);
    });
  });
});
