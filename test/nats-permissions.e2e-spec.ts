import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { conversationEventSubject } from '@parley/contracts';
import { ensureStreams, EVENTS_STREAM, INGRESS_STREAM, JetStreamSnapshotStore } from '@parley/event-log';
import { NatsServer, uniqueName, waitFor } from '@parley/testing';
import { startTestActorHost } from '../apps/actors/src/actor-host.fixture';
import { connect, headers, type NatsConnection, StringCodec } from 'nats';
import { Client, natsUrlAs, type NatsUser, startSystem, type TestSystem } from './support/system';

/**
 * The NATS users of deploy/nats/nats.conf (the compose cluster's), on a real nats-server: each app
 * works as its own user, and each user is refused what its app does not need.
 */
describe('NATS users and permissions (deploy/nats/nats.conf)', () => {
  const users = {
    actors: { user: 'actors', pass: 'actors-secret' },
    projector: { user: 'projector', pass: 'projector-secret' },
    gateway: { user: 'gateway', pass: 'gateway-secret' },
    services: { user: 'services', pass: 'services-secret' },
  };
  const sc = StringCodec();
  // The config reads the passwords from the server's environment, as in docker-compose.yml.
  const env = Object.fromEntries(
    Object.values(users).map((u) => [`NATS_${u.user.toUpperCase()}_PASSWORD`, u.pass]),
  );
  const config = readFileSync(resolve(__dirname, '../deploy/nats/nats.conf'), 'utf8');
  let sys: TestSystem;
  const conns: NatsConnection[] = [];

  beforeAll(async () => {
    sys = await startSystem({}, { natsAuth: { config, env, users } });
  }, 120_000);

  afterAll(async () => {
    await Promise.all(conns.map((c) => c.close().catch(() => undefined)));
    await sys?.close();
  });

  async function as(u: NatsUser): Promise<NatsConnection> {
    const nc = await connect({ servers: sys.nats.url, user: u.user, pass: u.pass, reconnect: false });
    conns.push(nc);
    return nc;
  }

  /** Resolves with the error a denied request gets (the server's permissions violation). */
  async function refused(p: Promise<unknown>): Promise<string> {
    try {
      await p;
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the request to be refused');
  }

  it('lets every app do its work under its own user', async () => {
    const gid = uniqueName('perm');
    const cid = `g:${gid}`;
    const [alice, bob] = [new Client(sys.gateway.url, 'alice'), new Client(sys.gateway.url, 'bob')];
    const bobWs = await bob.socket();
    await alice.ok('POST', '/v1/groups', { groupId: gid, name: 'Perm', members: ['bob'] }, 201);
    await alice.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'a1', kind: 'text', body: 'hi' },
      201,
    );
    expect((await bobWs.next((f) => f.type === 'message')).message).toMatchObject({ seq: 1, body: 'hi' });

    // Another service: request/reply commands, durable ingress with a reply subject, events.
    const svc = await as(users.services);
    const events: string[] = [];
    svc.subscribe(`im.evt.conv.${cid}`, {
      callback: (_e, m) => events.push(JSON.parse(sc.decode(m.data)).type),
    });
    const direct = await svc.request(
      `im.cmd.conv.${cid}.send`,
      sc.encode(JSON.stringify({ from: 'alice', clientMsgId: 's1', kind: 'text', body: 'from a service' })),
      { timeout: 5_000 },
    );
    expect(JSON.parse(sc.decode(direct.data))).toMatchObject({ ok: true, result: { seq: 2 } });
    const replyTo = `im.reply.svc.${uniqueName('r')}`;
    const reply = new Promise<string>((res) => {
      const sub = svc.subscribe(replyTo, { max: 1, callback: (_e, m) => res(sc.decode(m.data)) });
      void sub;
    });
    const h = headers();
    h.set('Im-Reply-To', replyTo);
    await svc
      .jetstream()
      .publish(
        `im.in.conv.${cid}.send`,
        sc.encode(JSON.stringify({ from: 'alice', clientMsgId: 's2', kind: 'text', body: 'durably' })),
        { headers: h },
      );
    expect(JSON.parse(await reply)).toMatchObject({ ok: true, result: { seq: 3 } });
    await waitFor(() => events.filter((t) => t === 'MessageSent').length === 2, { message: 'events' });

    // The projections (history in MySQL, counters in Redis) and the reads behind them.
    const seqs = async () =>
      (
        (await bob.ok('GET', `/v1/conversations/${cid}/messages?limit=50`)).messages as Array<{ seq: number }>
      ).map((m) => m.seq);
    await waitFor(async () => (await seqs()).length === 3, { message: 'history in MySQL' });
    expect(await seqs()).toEqual([1, 2, 3]);
    await bob.ok('POST', `/v1/conversations/${cid}/read`, { seq: 2 });
    const unread = await bob.ok('GET', '/v1/unread');
    expect(
      unread.conversations.find((c: { conversationId: string }) => c.conversationId === cid),
    ).toMatchObject({
      unread: 1,
    });
    expect((await fetch(`${sys.gateway.url}/health/ready`)).status).toBe(200);
    expect((await fetch(`${sys.gateway.url}/metrics`)).status).toBe(200);
    await bobWs.close();

    // A new actor host rehydrates the conversation from the log and goes on at the right seq; it
    // snapshots after every event here, and the projector's user can read (not write) the snapshot.
    await sys.actors.stop();
    const host = await startTestActorHost(natsUrlAs(sys.nats.url, users.actors), { IM_SNAPSHOT_EVERY: '1' });
    try {
      expect(
        await alice.ok(
          'POST',
          `/v1/conversations/${cid}/messages`,
          { clientMsgId: 'a2', kind: 'text', body: 'again' },
          201,
        ),
      ).toMatchObject({ seq: 4 });
      const snapshots = new JetStreamSnapshotStore(await as(users.projector), { create: false });
      const subject = conversationEventSubject(cid);
      await waitFor(async () => (await snapshots.position(subject)) > 0, { message: 'a snapshot' });
      expect((await snapshots.load(subject))?.v).toBe(1);
      expect(host.service.handler.snapshots!.stats.failed).toBe(0);
    } finally {
      await host.stop();
    }
    // None of the apps met a refusal on the way.
    expect(readFileSync(sys.nats.logFile, 'utf8')).not.toMatch(
      /Violation - User "(actors|projector|gateway)"/,
    );
  });

  it('makes an app whose user may not create the streams wait for the actor hosts to create them', async () => {
    const server = await NatsServer.start({ config, env, probeUser: users.projector });
    const [gateway, actors] = await Promise.all(
      [users.gateway, users.actors].map((u) =>
        connect({ servers: server.url, user: u.user, pass: u.pass, reconnect: false }),
      ),
    );
    try {
      const waiting = ensureStreams(await gateway.jetstreamManager({ checkAPI: false }), { replicas: 1 });
      let settled = false;
      void waiting.finally(() => (settled = true));
      await new Promise((r) => setTimeout(r, 1_000));
      expect(settled).toBe(false);
      const created = await ensureStreams(await actors.jetstreamManager(), { replicas: 1 });
      expect(created.map((r) => r.action)).toEqual(['created', 'created', 'created']);
      expect((await waiting).map((r) => r.action)).toEqual(['unchanged', 'unchanged', 'unchanged']);
    } finally {
      await Promise.all([gateway.close(), actors.close()]);
      await server.dispose();
    }
  });

  it('refuses each user what its app does not need', async () => {
    const [gateway, projector, svc] = [
      await as(users.gateway),
      await as(users.projector),
      await as(users.services),
    ];
    const send = sc.encode(JSON.stringify({ from: 'mallory', clientMsgId: 'x', kind: 'text', body: 'x' }));
    // Only actor hosts append events.
    for (const nc of [gateway, projector, svc]) {
      expect(await refused(nc.jetstream().publish(`im.evt.conv.g:forged`, send, { timeout: 1_000 }))).toMatch(
        /permissions violation/i,
      );
    }
    // Only the gateway and services send commands; nobody but the actor hosts takes them.
    expect(await refused(projector.request('im.cmd.conv.g:x.send', send, { timeout: 1_000 }))).toMatch(
      /permissions violation/i,
    );
    for (const nc of [gateway, svc]) {
      const denied = new Promise<string>((res) =>
        nc.subscribe('im.cmd.>', { callback: (err) => err && res(err.message) }),
      );
      expect(await denied).toMatch(/permission/i);
    }
    // No stream administration outside the apps that own it.
    for (const nc of [gateway, projector, svc]) {
      const jsm = await nc.jetstreamManager({ checkAPI: false });
      expect(await refused(jsm.streams.delete(EVENTS_STREAM))).toMatch(/permissions violation/i);
      expect(await refused(jsm.streams.purge(INGRESS_STREAM))).toMatch(/permissions violation/i);
    }
    // Only actor hosts write snapshots.
    const snapshots = new JetStreamSnapshotStore(projector, { create: false });
    expect(
      await refused(snapshots.save('im.evt.conv.g:forged', { v: 1, streamSeq: 1e9, state: {} })),
    ).toMatch(/permissions violation/i);
    const jsm = await (await as(users.actors)).jetstreamManager();
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBeGreaterThan(0);
    expect(natsUrlAs(sys.nats.url, users.gateway)).toContain('gateway:gateway-secret@');
  });
});
