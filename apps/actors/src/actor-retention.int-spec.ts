import { type NatsConnection } from 'nats';
import { conversationEventSubject, decodeReply, userEventSubject } from '@parley/contracts';
import { connectToNats, JetStreamEventLog, JetStreamSnapshotStore } from '@parley/event-log';
import { NatsServer, waitFor } from '@parley/testing';
import { startTestActorHost, type TestActorHost } from './actor-host.fixture';

const enc = new TextEncoder();
const MAX_AGE_MS = 4_000;
type Answer = { ok: boolean; result?: Record<string, unknown>; error?: { code: string } };

/**
 * A finite IM_EVENTS_MAX_AGE_MS (DESIGN §15): once a group's first events, GroupCreated included, have
 * left the log, its actor answers exactly as before, from the snapshot the sweeper kept ahead of expiry.
 */
describe('log retention (own nats-server, events expire after 4 s)', () => {
  let server: NatsServer;
  let client: NatsConnection;
  let log: JetStreamEventLog;
  let host: TestActorHost | undefined;
  const env = {
    IM_EVENTS_MAX_AGE_MS: String(MAX_AGE_MS),
    IM_SNAPSHOT_SWEEP_MS: '400',
    // Only the sweeper writes snapshots here (not every N events, not on passivation).
    IM_SNAPSHOT_EVERY: '0',
  };

  beforeAll(async () => {
    server = await NatsServer.start();
    client = await connectToNats({ servers: server.url, name: 'client' });
    host = await startTestActorHost(server.url, env);
    log = await JetStreamEventLog.create(client);
  });
  afterAll(async () => {
    await host?.stop();
    await client?.close();
    await server?.dispose();
  });

  async function call(subject: string, body: unknown): Promise<Answer> {
    const m = await client.request(subject, enc.encode(JSON.stringify(body)), { timeout: 15_000 });
    return decodeReply(m.data) as Answer;
  }
  const send = (from: string, clientMsgId: string) =>
    call('im.cmd.conv.g:old.send', { from, clientMsgId, kind: 'text', body: clientMsgId });

  it('after the first events expired, a restarted host answers the same lastSeq, members, owner and dedup', async () => {
    expect(
      (await call('im.cmd.conv.g:old.create', { by: 'alice', name: 'Old', members: ['bob', 'carol'] })).ok,
    ).toBe(true);
    for (let i = 1; i <= 5; i++) expect((await send(i % 2 ? 'bob' : 'carol', `c${i}`)).ok).toBe(true);
    expect((await call('im.cmd.conv.g:old.leave', { by: 'alice', userId: 'alice' })).ok).toBe(true);
    expect((await call('im.cmd.conv.g:old.join', { by: 'bob', userIds: ['dave'] })).ok).toBe(true);
    expect((await call('im.cmd.user.carol.read', { conversationId: 'g:old', seq: 4 })).ok).toBe(true);
    const subject = conversationEventSubject('g:old');
    const first = (await log.readSubject(subject))[0].streamSeq;

    // Wait until every event of the group and of carol has expired from the log.
    await waitFor(async () => (await log.readLast(subject)) === undefined, {
      timeoutMs: 20_000,
      message: 'the group events to expire',
    });
    await waitFor(async () => (await log.readLast(userEventSubject('carol'))) === undefined, {
      timeoutMs: 20_000,
      message: "carol's events to expire",
    });
    expect((await log.bounds()).first).toBeGreaterThan(first);
    const store = new JetStreamSnapshotStore(client);
    expect(await store.position(subject)).toBeGreaterThanOrEqual(first);
    expect(host!.service.sweeper!.stats.snapshots).toBeGreaterThanOrEqual(2);

    await host!.stop();
    host = await startTestActorHost(server.url, env);
    // Dedup remembers the expired sends; seq goes on after 5.
    expect(await send('carol', 'c4')).toMatchObject({ ok: true, result: { seq: 4, duplicate: true } });
    expect(await send('dave', 'new')).toMatchObject({ ok: true, result: { seq: 6, duplicate: false } });
    // Members and owner: alice left (bob, the longest-standing, owns the group), dave joined.
    expect(await send('alice', 'x')).toMatchObject({ ok: false, error: { code: 'FORBIDDEN' } });
    expect(await call('im.cmd.conv.g:old.join', { by: 'bob', userIds: ['carol', 'dave'] })).toMatchObject({
      ok: true,
      result: { joined: [] },
    });
    expect(await call('im.cmd.conv.g:old.leave', { by: 'carol', userId: 'dave' })).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' }, // only the owner (bob) removes others
    });
    expect((await call('im.cmd.conv.g:old.leave', { by: 'bob', userId: 'dave' })).ok).toBe(true);
    // The group still exists (no second create) and carol's read position survived.
    expect(await call('im.cmd.conv.g:old.create', { by: 'zed', name: 'x', members: [] })).toMatchObject({
      ok: false,
      error: { code: 'ALREADY_EXISTS' },
    });
    expect(await call('im.cmd.user.carol.read', { conversationId: 'g:old', seq: 1 })).toMatchObject({
      ok: true,
      result: { readSeq: 4, unread: 2 },
    });
  }, 60_000);
});
