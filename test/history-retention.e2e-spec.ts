import { setTimeout as sleep } from 'node:timers/promises';
import { uniqueName } from '@parley/testing';
import { checkProjections } from '../apps/projector/src/check';
import { HistoryRetention } from '../apps/projector/src/retention/history-retention';
import { Client, type Json, startSystem, type TestSystem } from './support/system';

/**
 * `IM_HISTORY_RETENTION_MS` end to end on the real clock: the gateway's history, sync and session list
 * leave out what is past retention before any job ran; the job then deletes it and check still passes.
 * (The pinned-clock cases are in apps/projector/src/retention/history-retention.int-spec.ts.)
 */
describe('history retention over HTTP', () => {
  const RETENTION_MS = 5_000; // room for the assertions after the third send on a loaded machine
  let sys: TestSystem;

  beforeAll(async () => {
    sys = await startSystem({ IM_HISTORY_RETENTION_MS: String(RETENTION_MS) });
  });

  afterAll(async () => {
    await sys?.close();
  });

  it('hides old messages from history, sync and the preview at once; lastSeq and unread stay exact', async () => {
    const gid = uniqueName('keep');
    const cid = `g:${gid}`;
    const [alice, bob] = [new Client(sys.gateway.url, 'alice'), new Client(sys.gateway.url, 'bob')];
    await alice.ok('POST', '/v1/groups', { groupId: gid, name: 'Short memory', members: ['bob'] }, 201);
    const send = (n: number): Promise<Json> =>
      alice.ok(
        'POST',
        `/v1/conversations/${cid}/messages`,
        { clientMsgId: `m${n}`, kind: 'text', body: `m${n}` },
        201,
      );
    await send(1);
    const second = await send(2);
    await sleep(Math.max(0, second.at + RETENTION_MS + 50 - Date.now()));
    const third = await send(3);
    await sys.projector.waitFor(third.streamSeq); // bob's reads do not wait for alice's writes

    const seqs = (ms: Array<{ seq: number }>) => ms.map((m) => m.seq);
    expect(seqs((await bob.ok('GET', `/v1/conversations/${cid}/messages`)).messages)).toEqual([3]);
    const synced = await bob.ok('GET', '/v1/sync?cursor=0');
    expect(synced.messages.filter((m: Json) => m.conversationId === cid).map((m: Json) => m.seq)).toEqual([
      3,
    ]);
    const session = (await bob.ok('GET', '/v1/conversations')).conversations.find(
      (s: Json) => s.conversationId === cid,
    );
    expect(session).toMatchObject({ lastSeq: 3, readSeq: 0, unread: 3, lastMessage: { seq: 3, body: 'm3' } });
    expect(await bob.ok('GET', '/v1/unread')).toMatchObject({ total: 3 });
    expect((await bob.ok('GET', `/v1/groups/${gid}`)).lastSeq).toBe(3);
    expect(await bob.ok('POST', `/v1/conversations/${cid}/read`, { seq: 3 })).toMatchObject({
      readSeq: 3,
      unread: 0,
    });

    const { db, redis } = sys.projector;
    const check = () =>
      checkProjections(sys.nc, { db, redis, retention: { historyRetentionMs: RETENTION_MS } });
    expect((await check()).differences).toEqual([]);
    const pass = await new HistoryRetention(db, { historyRetentionMs: RETENTION_MS, batchSize: 1 }).runOnce();
    expect(pass).toMatchObject({ ran: true, deleted: 2 });
    const left = (await db.dataSource.query(
      'SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq',
      [cid],
    )) as Array<{ seq: number }>;
    expect(left.map((r) => Number(r.seq))).toEqual([3]);
    expect((await check()).differences).toEqual([]);
  });
});
