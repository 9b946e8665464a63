import { uniqueName, waitFor } from '@parley/testing';
import { WebSocket } from 'ws';
import { LiveHub } from '../apps/gateway/src/live/live-hub';
import {
  Client,
  command,
  type LiveClient,
  signToken,
  startGateway,
  startSystem,
  type TestGateway,
  type TestSystem,
} from './support/system';

/** Whether a gateway's hub follows `cid` for `userId` (what the refresh changes). */
const gwInterest = (gw: TestGateway, userId: string, cid: string) =>
  gw.app.get(LiveHub).isInterested(userId, cid);

/** WebSocket /v1/ws end to end with real `ws` clients against the whole system. */
describe('gateway WebSocket', () => {
  let sys: TestSystem;
  const sockets: LiveClient[] = [];
  const as = (userId: string) => new Client(sys.gateway.url, userId);
  const open = async (c: Client) => {
    const s = await c.socket();
    sockets.push(s);
    return s;
  };
  const messages = (s: LiveClient, cid: string) =>
    s
      .of('message')
      .filter((f) => f.message.conversationId === cid)
      .map((f) => f.message.seq as number);

  beforeAll(async () => {
    sys = await startSystem({ IM_WS_HEARTBEAT_MS: '300' });
  });

  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close()));
    await sys?.close();
  });

  it('pushes each message once to each socket, and clears the badge on the other device', async () => {
    const [alice, bob] = [as(uniqueName('alice')), as(uniqueName('bob'))];
    const gid = uniqueName('live');
    const cid = `g:${gid}`;
    const aliceWs = await open(alice);
    const [bob1, bob2] = [await open(bob), await open(bob)];
    await alice.ok('POST', '/v1/groups', { groupId: gid, name: 'Live', members: [bob.userId] }, 201);
    // both of bob's devices learn about the group (interest added before the command was sent)
    for (const s of [bob1, bob2]) {
      expect((await s.next((f) => f.type === 'member')).event).toMatchObject({
        type: 'GroupCreated',
        owner: alice.userId,
      });
    }
    const started = Date.now();
    await alice.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'first', kind: 'text', body: 'hi bob' },
      201,
    );
    const pushed = await bob1.next((f) => f.type === 'message');
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(pushed.message).toEqual({
      conversationId: cid,
      seq: 1,
      streamSeq: expect.any(Number),
      from: alice.userId,
      kind: 'text',
      body: 'hi bob',
      mentions: [],
      at: expect.any(Number),
      recalled: false,
    });
    for (let i = 2; i <= 10; i++) {
      await alice.ok(
        'POST',
        `/v1/conversations/${cid}/messages`,
        { clientMsgId: `m${i}`, kind: 'text', body: `m${i}` },
        201,
      );
    }
    // a resend is answered as a duplicate and never pushed again
    await alice.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'm5', kind: 'text', body: 'm5' },
      201,
    );
    await waitFor(() => [bob1, bob2, aliceWs].every((s) => messages(s, cid).length >= 10), {
      message: '10 messages on every socket',
    });
    await new Promise((r) => setTimeout(r, 200)); // nothing more arrives
    const all = Array.from({ length: 10 }, (_, i) => i + 1);
    for (const s of [bob1, bob2, aliceWs]) expect(messages(s, cid)).toEqual(all);

    // bob reads on device 1 (HTTP); device 2 gets the read state and its badge clears
    expect(await bob.ok('POST', `/v1/conversations/${cid}/read`, { seq: 10 })).toMatchObject({
      readSeq: 10,
      unread: 0,
    });
    const read = await bob2.next((f) => f.type === 'read');
    expect(read).toEqual({ type: 'read', conversationId: cid, readSeq: 10, unread: 0 });
    expect(aliceWs.of('read')).toEqual([]); // read state is private to the reader's devices

    // recall is pushed too
    await alice.ok('POST', `/v1/conversations/${cid}/messages/3/recall`);
    expect(await bob2.next((f) => f.type === 'recall')).toMatchObject({
      conversationId: cid,
      seq: 3,
      by: alice.userId,
    });
  });

  it('pushes a direct chat from its first message, membership changes, and online-only signals', async () => {
    const [erin, finn, gail] = [as(uniqueName('erin')), as(uniqueName('finn')), as(uniqueName('gail'))];
    const [erinWs, finnWs, gailWs] = [await open(erin), await open(finn), await open(gail)];
    const dm = `d:${[erin.userId, finn.userId].sort().join(':')}`;
    await erin.ok(
      'POST',
      `/v1/conversations/${dm}/messages`,
      { clientMsgId: 'd1', kind: 'text', body: 'psst' },
      201,
    );
    expect((await finnWs.next((f) => f.type === 'message')).message).toMatchObject({
      conversationId: dm,
      seq: 1,
      body: 'psst',
    });

    // gail is added to a group later: she gets the member event and the messages after it
    const gid = uniqueName('grow');
    const cid = `g:${gid}`;
    await erin.ok('POST', '/v1/groups', { groupId: gid, name: 'Grow', members: [finn.userId] }, 201);
    await erin.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'before', kind: 'text', body: 'before gail' },
      201,
    );
    await erin.ok('POST', `/v1/groups/${gid}/members`, { userIds: [gail.userId] });
    expect((await gailWs.next((f) => f.type === 'member')).event).toMatchObject({
      type: 'MembersJoined',
      userIds: [gail.userId],
    });
    await erin.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'after', kind: 'text', body: 'hi gail' },
      201,
    );
    expect((await gailWs.next((f) => f.type === 'message')).message).toMatchObject({
      conversationId: cid,
      seq: 2,
    });
    expect(messages(gailWs, cid)).toEqual([2]);

    // typing: pushed to the other members online, not stored, not echoed to the sender
    finnWs.send({ type: 'signal', conversationId: cid, body: 'typing' });
    for (const s of [erinWs, gailWs]) {
      expect(await s.next((f) => f.type === 'signal')).toMatchObject({
        conversationId: cid,
        from: finn.userId,
        body: 'typing',
      });
    }
    // a signal to a conversation the user is not in is refused
    gailWs.send({ type: 'signal', conversationId: dm, body: 'typing' });
    expect(await gailWs.next((f) => f.type === 'error')).toMatchObject({ code: 'FORBIDDEN' });
    gailWs.send({ nonsense: true });
    await gailWs.next((f) => f.type === 'error' && f.code === 'INVALID_ARGUMENT');

    // removal: gail gets the member event and nothing after it
    await erin.ok('DELETE', `/v1/groups/${gid}/members/${gail.userId}`);
    expect(
      (await gailWs.next((f) => f.type === 'member' && f.event.type === 'MemberLeft')).event,
    ).toMatchObject({
      userId: gail.userId,
      reason: 'removed',
    });
    await erin.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'gone', kind: 'text', body: 'after gail' },
      201,
    );
    await finnWs.next((f) => f.type === 'message' && f.message.seq === 3 && f.message.conversationId === cid);
    expect(messages(gailWs, cid)).toEqual([2]);
    expect(finnWs.of('signal')).toEqual([]);
  });

  it('follows the conversations a user was added to just before connecting', async () => {
    const [hana, ivan] = [as(uniqueName('hana')), as(uniqueName('ivan'))];
    for (let round = 0; round < 5; round++) {
      const gid = uniqueName('fresh');
      await hana.ok('POST', '/v1/groups', { groupId: gid, name: 'Fresh', members: [ivan.userId] }, 201);
      // ivan connects at once: the projection may not show the membership yet when his socket opens
      const ivanWs = await open(ivan);
      await hana.ok(
        'POST',
        `/v1/conversations/g:${gid}/messages`,
        { clientMsgId: 'hi', kind: 'text', body: 'welcome' },
        201,
      );
      await ivanWs.next((f) => f.type === 'message' && f.message.conversationId === `g:${gid}`);
      await ivanWs.close();
    }
  });

  it('picks up a membership changed elsewhere (a service on NATS) with its periodic refresh', async () => {
    const gw = await startGateway({ ...sys.env, IM_WS_REFRESH_MS: '200' });
    try {
      const jack = new Client(gw.url, uniqueName('jack'));
      const jackWs = await jack.socket();
      sockets.push(jackWs);
      const cid = `g:${uniqueName('elsewhere')}`;
      const ask = (subject: string, body: unknown) => command(sys.nc, subject, body);
      // no socket of this gateway follows the group: only the refresh can tell jack's socket about it
      expect(
        (
          await ask(`im.cmd.conv.${cid}.create`, {
            by: 'svc-owner',
            name: 'Elsewhere',
            members: [jack.userId],
          })
        ).ok,
      ).toBe(true);
      await waitFor(() => gwInterest(gw, jack.userId, cid), { timeoutMs: 10_000, message: 'the refresh' });
      expect(
        (
          await ask(`im.cmd.conv.${cid}.send`, {
            from: 'svc-owner',
            clientMsgId: 'e1',
            kind: 'text',
            body: 'hello',
          })
        ).ok,
      ).toBe(true);
      expect(
        (await jackWs.next((f) => f.type === 'message' && f.message.conversationId === cid)).message,
      ).toMatchObject({
        seq: 1,
        body: 'hello',
      });
      await jackWs.close();
    } finally {
      await gw.close();
    }
  });

  it('authenticates the handshake (query or subprotocol) and sends heartbeats', async () => {
    const base = sys.gateway.url.replace('http', 'ws');
    const refused = (url: string, protocols?: string[]) =>
      new Promise<number>((resolve, reject) => {
        const ws = new WebSocket(url, protocols);
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => reject(new Error('opened')));
        ws.on('error', () => undefined);
      });
    expect(await refused(`${base}/v1/ws`)).toBe(401);
    expect(await refused(`${base}/v1/ws?token=${signToken({ sub: 'x' }, { alg: 'none' })}`)).toBe(401);
    expect(await refused(`${base}/v1/ws?token=${signToken({ sub: 'x' }, { expiresInS: -1 })}`)).toBe(401);

    const token = signToken({ sub: uniqueName('proto') });
    const ws = new WebSocket(`${base}/v1/ws`, ['parley.v1', token]);
    const frames: Array<{ type: string }> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as { type: string }));
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    expect(ws.protocol).toBe('parley.v1');
    await waitFor(() => frames.some((f) => f.type === 'heartbeat'), {
      timeoutMs: 3_000,
      message: 'a heartbeat',
    });
    ws.send(JSON.stringify({ type: 'ping' }));
    await waitFor(() => frames.some((f) => f.type === 'pong'), { timeoutMs: 3_000, message: 'a pong' });
    expect(frames[0]).toMatchObject({ type: 'ready' });
    ws.close();
  });
});
