import { conversationEventSubject, decodeReply } from '@parley/contracts';
import { CONVERSATION_SNAPSHOT_VERSION } from '@parley/domain';
import { connectToNats, JetStreamEventLog, JetStreamSnapshotStore } from '@parley/event-log';
import { createTestDatabase, NatsServer, sharedInfra, uniqueName, waitFor } from '@parley/testing';
import { type NatsConnection } from 'nats';
import { startTestActorHost, type TestActorHost } from '../../actors/src/actor-host.fixture';
import { checkProjections } from './check';
import { rebuildProjection } from './rebuild';
import { dumpMysql, dumpRedis, openHarness, type ProjectionHarness } from './testing/projection-harness';

const enc = new TextEncoder();

/** Drives a small but complete life through an actor host: groups, a direct chat, leaves, recalls, reads. */
async function drive(nc: NatsConnection, tag: string): Promise<void> {
  const call = async (subject: string, body: unknown) => {
    const reply = decodeReply(
      (await nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: 15_000 })).data,
    );
    if (!reply.ok) throw new Error(`${subject}: ${reply.error.code} ${reply.error.message}`);
  };
  const g = `g:${tag}`;
  await call(`im.cmd.conv.${g}.create`, { by: 'alice', name: tag, members: ['bob', 'carol'] });
  for (let i = 1; i <= 12; i++) {
    const from = ['alice', 'bob', 'carol'][i % 3];
    await call(`im.cmd.conv.${g}.send`, {
      from,
      clientMsgId: `${tag}-${i}`,
      kind: 'text',
      body: `hello ${i}`,
    });
  }
  await call(`im.cmd.conv.${g}.recall`, { by: 'bob', seq: 1 });
  await call(`im.cmd.conv.${g}.leave`, { by: 'alice', userId: 'alice' });
  await call(`im.cmd.conv.${g}.join`, { by: 'bob', userIds: ['dave'] });
  await call(`im.cmd.user.carol.read`, { conversationId: g, seq: 7 });
  const d = `d:bob:${tag}`;
  await call(`im.cmd.conv.${d}.send`, { from: 'bob', clientMsgId: `${tag}-d`, kind: 'text', body: 'psst' });
  await call(`im.cmd.conv.${d}.recall`, { by: 'bob', seq: 1 });
}

describe('projections and actor snapshots (own nats-server, shared MariaDB and Redis)', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const open: Array<{ close(): Promise<void> }> = [];

  async function harness(natsConn: NatsConnection): Promise<ProjectionHarness> {
    const { mysqlUrl, redisUrl } = sharedInfra();
    const h = await openHarness(
      natsConn,
      await createTestDatabase(mysqlUrl, uniqueName('snap')),
      redisUrl,
      `${uniqueName('snap')}:`,
    );
    open.push(h);
    return h;
  }
  async function host(url: string, env: Record<string, string>): Promise<TestActorHost> {
    const h = await startTestActorHost(url, env);
    open.push({ close: () => h.stop() });
    return h;
  }

  afterEach(async () => {
    for (const o of open.splice(0).reverse()) await o.close().catch(() => undefined);
    await nc?.close();
    await nats?.dispose();
  });

  it('check compares every snapshot with the fold of the log at its position, and finds a tampered one', async () => {
    nats = await NatsServer.start();
    nc = await connectToNats({ servers: nats.url, name: 'snap-check' });
    await host(nats.url, { IM_SNAPSHOT_EVERY: '3' });
    await drive(nc, 'verify');
    const store = new JetStreamSnapshotStore(nc, { create: false });
    const subject = conversationEventSubject('g:verify');
    await waitFor(async () => (await store.position(subject)) > 0, { message: 'a snapshot' });
    const h = await harness(nc);
    await h.start();
    const { last } = await (await JetStreamEventLog.create(nc)).bounds();
    await h.waitFor(last);

    const clean = await checkProjections(nc, { db: h.db, redis: h.redis, snapshots: store });
    expect(clean.differences).toEqual([]);
    expect(clean.snapshots.verified).toBeGreaterThanOrEqual(1);
    expect(clean.snapshots.seeded).toBe(0);

    // A snapshot that says something the log does not (lastSeq off by one) is a difference.
    const snap = (await store.load(subject))!;
    const state = snap.state as { lastSeq: number };
    const writer = new JetStreamSnapshotStore(nc);
    await (
      await nc.jetstream().views.kv('IM_SNAPSHOTS')
    ).purge(subject.replace('im.evt.', '').replace(/:/g, '='));
    await writer.save(subject, {
      v: CONVERSATION_SNAPSHOT_VERSION,
      streamSeq: snap.streamSeq,
      state: { ...state, lastSeq: state.lastSeq + 1 },
    });
    const tampered = await checkProjections(nc, { db: h.db, redis: h.redis, snapshots: store });
    expect(tampered.differences.map((d) => d.where)).toEqual([`snapshot ${subject} at ${snap.streamSeq}`]);
  });

  it('after the first events expired, live projections, and rebuilds seeded from the snapshots, pass check', async () => {
    nats = await NatsServer.start();
    nc = await connectToNats({ servers: nats.url, name: 'snap-retention' });
    const env = { IM_EVENTS_MAX_AGE_MS: '8000', IM_SNAPSHOT_SWEEP_MS: '500', IM_SNAPSHOT_EVERY: '0' };
    await host(nats.url, env);
    const live = await harness(nc);
    await live.start();
    await drive(nc, 'early');
    const log = await JetStreamEventLog.create(nc);
    const earlyEnd = (await log.bounds()).last;
    await live.waitFor(earlyEnd);
    // Wait until every early event expired, then write more on top of the snapshots.
    await waitFor(async () => (await log.bounds()).first > earlyEnd, {
      timeoutMs: 20_000,
      message: 'expiry',
    });
    const lateStart = (await log.bounds()).last + 1;
    await drive(nc, 'late');
    const { first, last } = await log.bounds();
    expect(first).toBeGreaterThan(1);
    await live.waitFor(last);
    const store = new JetStreamSnapshotStore(nc, { create: false });

    const checked = await checkProjections(nc, { db: live.db, redis: live.redis, snapshots: store });
    expect(checked.differences).toEqual([]);
    expect(checked.snapshots.seeded).toBeGreaterThanOrEqual(3); // g:early, d:bob:early, carol
    await live.stop();
    const before = { mysql: await dumpMysql(live.db), redis: await dumpRedis(live.redis) };

    // Rebuild both from the snapshots and what the log still holds: the same rows and keys as live.
    for (const p of [live.history, live.counters]) {
      await rebuildProjection(nc, p, { snapshots: store, durable: `rebuild-${p.name}` });
    }
    expect({ mysql: await dumpMysql(live.db), redis: await dumpRedis(live.redis) }).toEqual(before);
    // The rebuild replayed the late events from the log (they had not expired yet).
    expect((await log.bounds()).first).toBeLessThanOrEqual(lateStart);
    const rebuilt = await checkProjections(nc, { db: live.db, redis: live.redis, snapshots: store });
    expect(rebuilt.differences).toEqual([]);
    // The history of expired events is still there (the archive a rebuild keeps).
    const early = (await live.db.dataSource.query(
      "SELECT COUNT(*) AS n FROM messages WHERE conversation_id = 'g:early'",
    )) as Array<{ n: string }>;
    expect(Number(early[0].n)).toBe(12);
  }, 60_000);
});
