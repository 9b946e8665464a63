import { Test } from '@nestjs/testing';
import { ConfigService } from '@nestjs/config';
import { ParleyConfig, validateEnv } from '@parley/config';
import { encodeEvent, type ParleyEvent } from '@parley/contracts';
import { connectToNats, ensureStreams } from '@parley/event-log';
import { ParleyDatabase, ReadModel } from '@parley/read-model';
import { createTestDatabase, NatsServer, sharedInfra, uniqueName, waitFor } from '@parley/testing';
import { type JetStreamClient, type NatsConnection } from 'nats';
import { checkProjections } from '../check';
import { rebuildProjection } from '../rebuild';
import { openHarness, type ProjectionHarness } from '../testing/projection-harness';
import { HistoryRetention } from './history-retention';
import { HistoryRetentionJob } from './history-retention.job';

/**
 * History retention over live projections, with a pinned clock: event times are fixed, so "now" moves
 * only when a test says so (no sleeping until messages age).
 */
describe('history retention (own nats-server, shared MariaDB and Redis)', () => {
  const R = 10_000; // IM_HISTORY_RETENTION_MS of these tests
  const T = 1_750_000_000_000; // event times are T + offsets
  const id = uniqueName('ret').replace(/[^A-Za-z0-9_-]/g, '');
  const group = `g:${id}`;
  const direct = 'd:alice:bob';
  const hook = `g:${id}hook`;

  let nats: NatsServer;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let h: ProjectionHarness;
  let clock = 0;
  let reader: ReadModel; // with retention, on the pinned clock
  let plain: ReadModel; // no retention: what readers saw before
  let lastSeq = 0;

  const at = (offset: number) => T + offset;
  const sent = (cid: string, seq: number, from: string, offset: number): ParleyEvent => ({
    type: 'MessageSent',
    v: 1,
    conversationId: cid,
    at: at(offset),
    commandId: `${cid}-${seq}`,
    data: { seq, from, clientMsgId: `m${seq}`, kind: 'text', body: `message ${seq}`, mentions: [] },
  });
  async function append(...events: ParleyEvent[]): Promise<number> {
    for (const e of events) {
      const subject = e.type === 'ReadMarked' ? `im.evt.user.${e.userId}` : `im.evt.conv.${e.conversationId}`;
      lastSeq = (await js.publish(subject, encodeEvent(e))).seq;
    }
    await h.waitFor(lastSeq);
    return lastSeq;
  }
  const job = (batchSize: number, historyRetentionMs = R) =>
    new HistoryRetention(h.db, { historyRetentionMs, batchSize, now: () => clock });
  const check = (historyRetentionMs = R) =>
    checkProjections(nc, {
      db: h.db,
      redis: h.redis,
      waitMs: 10_000,
      retention: { historyRetentionMs, now: () => clock, marginMs: 0 },
    });
  const rows = async (cid: string): Promise<number[]> =>
    (
      (await h.db.dataSource.query('SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq', [
        cid,
      ])) as Array<{ seq: number }>
    ).map((r) => Number(r.seq));
  const seqs = (ms: Array<{ seq: number }>) => ms.map((m) => m.seq);
  const syncOf = async (rm: ReadModel, uid: string) =>
    (await rm.sync(uid, { cursor: 0, limit: 1_000 })).messages.map((m) => `${m.conversationId}#${m.seq}`);
  const readState = async (uid: string) => {
    const { conversations } = await plain.sessions(uid);
    return conversations.map(({ conversationId, lastSeq: last, readSeq, unread }) => ({
      conversationId,
      lastSeq: last,
      readSeq,
      unread,
    }));
  };

  beforeAll(async () => {
    const { mysqlUrl, redisUrl } = sharedInfra();
    nats = await NatsServer.start();
    nc = await connectToNats({ servers: nats.url, name: 'retention-test' });
    js = nc.jetstream();
    await ensureStreams(await nc.jetstreamManager(), { replicas: 1 });
    h = await openHarness(
      nc,
      await createTestDatabase(mysqlUrl, uniqueName('ret')),
      redisUrl,
      `${uniqueName('ret')}:`,
    );
    await h.start({ batchSize: 64 });
    reader = new ReadModel(h.db, h.redis, { historyRetentionMs: R, now: () => clock });
    plain = new ReadModel(h.db, h.redis);

    // A group of ten messages one second apart (bob sent seq 2 and read up to 3), and a direct chat with
    // one old and one recent message.
    await append(
      {
        type: 'GroupCreated',
        v: 1,
        conversationId: group,
        at: at(0),
        commandId: 'create',
        data: { name: 'Retained', owner: 'alice', members: ['alice', 'bob', 'carol'] },
      },
      ...Array.from({ length: 10 }, (_, i) => sent(group, i + 1, i === 1 ? 'bob' : 'alice', (i + 1) * 1_000)),
      {
        type: 'ReadMarked',
        v: 1,
        userId: 'bob',
        at: at(10_500),
        commandId: 'r',
        data: { conversationId: group, readSeq: 3 },
      },
      sent(direct, 1, 'alice', 2_000),
      sent(direct, 2, 'bob', 16_000),
    );
    clock = at(14_500); // cutoff T + 4 500: group seqs 5..10 and the direct chat's seq 2 are retained
  });

  afterAll(async () => {
    await h?.close();
    await nc?.close();
    await nats?.dispose();
  });

  it('leaves messages past retention out of history and sync at once, before any job ran', async () => {
    expect(await rows(group)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

    expect(seqs((await reader.history('bob', group)).messages)).toEqual([5, 6, 7, 8, 9, 10]);
    const newest = await reader.history('bob', group, { limit: 3 });
    expect([seqs(newest.messages), newest.nextBeforeSeq]).toEqual([[8, 9, 10], 8]);
    const older = await reader.history('bob', group, { beforeSeq: 8, limit: 3 });
    expect([seqs(older.messages), older.nextBeforeSeq]).toEqual([[5, 6, 7], undefined]);
    const forward = await reader.history('carol', group, { afterSeq: 0, limit: 4 });
    expect([seqs(forward.messages), forward.nextAfterSeq]).toEqual([[5, 6, 7, 8], 8]);
    expect(seqs((await reader.history('bob', direct)).messages)).toEqual([2]);

    expect(await syncOf(plain, 'bob')).toHaveLength(12);
    expect(await syncOf(reader, 'bob')).toEqual([
      ...[5, 6, 7, 8, 9, 10].map((s) => `${group}#${s}`),
      `${direct}#2`,
    ]);
    const page = await reader.sync('carol', { cursor: 0, limit: 2 });
    expect([seqs(page.messages), page.hasMore]).toEqual([[5, 6], true]);
  });

  it('keeps lastSeq and unread exact and shows the preview only while it is retained', async () => {
    const before = await readState('bob');
    expect(before).toEqual([
      { conversationId: direct, lastSeq: 2, readSeq: 2, unread: 0 },
      { conversationId: group, lastSeq: 10, readSeq: 3, unread: 7 },
    ]);
    const sessions = async (uid: string) => (await reader.sessions(uid)).conversations;
    expect((await sessions('bob')).map((s) => [s.conversationId, s.lastMessage?.seq ?? null])).toEqual([
      [direct, 2],
      [group, 10],
    ]);
    expect(await reader.unread('carol')).toEqual(await plain.unread('carol'));

    clock = at(21_000); // cutoff T + 11 000: every group message is past retention, direct #2 is not
    expect((await reader.history('bob', group)).messages).toEqual([]);
    expect(await syncOf(reader, 'bob')).toEqual([`${direct}#2`]);
    const now = await sessions('bob');
    expect(now.map((s) => [s.conversationId, s.lastSeq, s.unread, s.lastMessage?.seq ?? null])).toEqual([
      [direct, 2, 0, 2],
      [group, 10, 7, null],
    ]);
    expect(await reader.unread('bob')).toEqual(await plain.unread('bob'));
    expect((await reader.unread('carol')).conversations).toEqual([{ conversationId: group, unread: 10 }]);
    clock = at(14_500);
  });

  it('check passes before the job ran, the job deletes in batches, and check passes after it', async () => {
    expect((await check()).differences).toEqual([]);

    const pass = await job(3).runOnce();
    // 5 rows past the cutoff: DELETE … LIMIT 3 twice, then one (empty) pass over recall-only rows.
    expect(pass).toEqual({ ran: true, cutoff: at(4_500), deleted: 5, batches: 3 });
    expect(await rows(group)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(await rows(direct)).toEqual([2]);
    expect(await job(3).runOnce()).toMatchObject({ deleted: 0 });

    expect(await readState('bob')).toEqual([
      { conversationId: direct, lastSeq: 2, readSeq: 2, unread: 0 },
      { conversationId: group, lastSeq: 10, readSeq: 3, unread: 7 },
    ]);
    expect((await plain.group('alice', id)).lastSeq).toBe(10);
    expect(seqs((await reader.history('bob', group)).messages)).toEqual([5, 6, 7, 8, 9, 10]);

    expect((await check()).differences).toEqual([]);
    // Without the retention the same check names exactly the deleted messages.
    expect((await check(0)).differences.map((d) => d.where).sort()).toEqual(
      [...[1, 2, 3, 4].map((s) => `mysql messages[${group} ${s}]`), `mysql messages[${direct} 1]`].sort(),
    );
  });

  it('a rebuild brings old messages back, check passes, and the next pass removes them again', async () => {
    await h.stop();
    await rebuildProjection(nc, h.history, { batchSize: 5 });
    await h.start({ batchSize: 64 });
    expect(await rows(group)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(seqs((await reader.history('bob', group)).messages)).toEqual([5, 6, 7, 8, 9, 10]);
    expect((await check()).differences).toEqual([]);

    expect(await job(1_000).runOnce()).toMatchObject({ deleted: 5, batches: 2 });
    expect(await rows(group)).toEqual([5, 6, 7, 8, 9, 10]);
    expect((await check()).differences).toEqual([]);
  });

  it('a recall of a deleted message leaves a hidden recall-only row that check accepts and the job removes', async () => {
    await append({
      type: 'MessageRecalled',
      v: 1,
      conversationId: group,
      at: at(14_000),
      commandId: 'recall-4',
      data: { seq: 4, by: 'alice' },
    });
    expect(await rows(group)).toEqual([4, 5, 6, 7, 8, 9, 10]);
    expect(seqs((await reader.history('bob', group)).messages)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(seqs((await plain.history('bob', group)).messages)).toEqual([5, 6, 7, 8, 9, 10]);
    expect((await check()).differences).toEqual([]);
    expect(await job(100).runOnce()).toMatchObject({ deleted: 0 }); // recalled after the cutoff: kept

    clock = at(25_000); // cutoff T + 15 000: the whole group and the recall are past it
    expect(await job(100).runOnce()).toMatchObject({ cutoff: at(15_000), deleted: 7 });
    expect(await rows(group)).toEqual([]);
    expect(await rows(direct)).toEqual([2]);
    expect((await check()).differences).toEqual([]);
    expect((await readState('bob')).find((s) => s.conversationId === group)).toMatchObject({
      lastSeq: 10,
      unread: 7,
    });
  });

  it("takes a conversation's own retention from conversations.retention_ms and the head (the group-setting hook)", async () => {
    await append(
      {
        type: 'GroupCreated',
        v: 1,
        conversationId: hook,
        at: at(20_000),
        commandId: 'create-hook',
        data: { name: 'Hook', owner: 'alice', members: ['alice', 'bob'] },
      },
      ...[1, 2, 3, 4].map((s) => sent(hook, s, 'alice', 19_000 + s * 1_000)),
    );
    clock = at(25_000); // deployment cutoff T + 15 000 keeps all four (T + 20 000 … 23 000)
    const keepAll = new ReadModel(h.db, h.redis, { now: () => clock });
    expect(seqs((await reader.history('bob', hook)).messages)).toEqual([1, 2, 3, 4]);

    // What projecting GroupSettingsChanged{retentionMs: 3000} will write (not in the log yet).
    await h.db.dataSource.query('UPDATE conversations SET retention_ms = 3000 WHERE id = ?', [hook]);
    await h.redis.client.hset(h.redis.keys.head(hook), 'retentionMs', '3000');
    for (const rm of [reader, keepAll]) {
      expect(seqs((await rm.history('bob', hook)).messages)).toEqual([3, 4]); // cutoff T + 22 000
      expect((await syncOf(rm, 'bob')).filter((m) => m.startsWith(hook))).toEqual([`${hook}#3`, `${hook}#4`]);
    }
    const preview = async () =>
      (await keepAll.sessions('bob')).conversations.find((s) => s.conversationId === hook)?.lastMessage?.seq;
    expect(await preview()).toBe(4);
    clock = at(26_500);
    expect(await preview()).toBeUndefined();
    clock = at(25_000);

    // With no deployment retention only the group's own applies.
    // Batches of one row: two deletes, one that finds nothing, one over recall-only rows.
    expect(await job(1, 0).runOnce()).toEqual({ ran: true, cutoff: 0, deleted: 2, batches: 4 });
    expect(await rows(hook)).toEqual([3, 4]);
    expect(await rows(direct)).toEqual([2]);

    // The log knows no group retention yet, so check reports the hand-set column and field and the rows.
    expect((await check()).differences.map((d) => d.where).sort()).toEqual(
      [
        `mysql conversations[${hook}]`,
        `mysql messages[${hook} 1]`,
        `mysql messages[${hook} 2]`,
        `redis ${h.redis.keys.head(hook)}`,
      ].sort(),
    );
  });

  it('runs as a Nest provider on its interval and stops with the app', async () => {
    // A database of its own: the job runs on the real clock, past which every event here is old.
    const { mysqlUrl } = sharedInfra();
    const url = await createTestDatabase(mysqlUrl, uniqueName('retjob'));
    const db = await ParleyDatabase.open(url, { migrate: true });
    try {
      await db.dataSource.query(
        'INSERT INTO messages (conversation_id, seq, stream_seq, sender, sent_at) VALUES ' +
          "('g:j', 1, 1, 'a', ?), ('g:j', 2, 2, 'a', ?), ('g:j', 3, 3, 'a', ?)",
        [new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000), new Date(Date.now() + 60_000)],
      );
      const settings = validateEnv({
        MYSQL_URL: url,
        IM_HISTORY_RETENTION_MS: '60000',
        IM_HISTORY_RETENTION_EVERY_MS: '1000',
        IM_HISTORY_RETENTION_BATCH: '1',
      });
      const app = await Test.createTestingModule({
        providers: [
          HistoryRetentionJob,
          { provide: ParleyConfig, useValue: new ParleyConfig(new ConfigService(settings)) },
          { provide: ParleyDatabase, useValue: db },
        ],
      }).compile();
      await app.init();
      const left = async () =>
        ((await db.dataSource.query('SELECT seq FROM messages ORDER BY seq')) as Array<{ seq: number }>).map(
          (r) => Number(r.seq),
        );
      await waitFor(async () => (await left()).length === 1, {
        timeoutMs: 10_000,
        message: 'the job to run',
      });
      expect(await left()).toEqual([3]);
      const t0 = Date.now();
      await app.close();
      expect(Date.now() - t0).toBeLessThan(2_000);
    } finally {
      await db.close();
    }
  });
});
