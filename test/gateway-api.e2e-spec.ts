import { NatsServer, uniqueName } from '@parley/testing';
import {
  Client,
  type Json,
  signToken,
  startGateway,
  startSystem,
  type TestGateway,
  type TestSystem,
} from './support/system';

/**
 * The HTTP API end to end: a real nats-server (private), actor host, both projections, MariaDB and
 * Redis, and the gateway in-process, driven with fetch.
 */
describe('gateway HTTP API', () => {
  let sys: TestSystem;
  let url: string;
  const as = (userId: string) => new Client(url, userId);

  beforeAll(async () => {
    sys = await startSystem();
    url = sys.gateway.url;
  });

  afterAll(async () => {
    await sys?.close();
  });

  it('runs the whole life of a group as three users', async () => {
    const gid = uniqueName('team');
    const cid = `g:${gid}`;
    const [alice, bob, carol] = [as('alice'), as('bob'), as('carol')];

    // create: the caller is the owner
    expect(
      await alice.ok('POST', '/v1/groups', { groupId: gid, name: 'Team', members: ['bob'] }, 201),
    ).toEqual({
      conversationId: cid,
      groupId: gid,
    });
    const group = await alice.ok('GET', `/v1/groups/${gid}`);
    expect(group).toMatchObject({ name: 'Team', owner: 'alice', lastSeq: 0, dissolved: false });
    expect(group.members.map((m: { userId: string }) => m.userId)).toEqual(['alice', 'bob']);

    // join: carol adds herself
    expect((await carol.call('GET', `/v1/groups/${gid}`)).status).toBe(403);
    expect(await carol.ok('POST', `/v1/groups/${gid}/members`, { userIds: ['carol'] })).toEqual({
      joined: ['carol'],
    });

    // send, and a resend of the same clientMsgId answers the original
    for (let i = 1; i <= 3; i++) {
      const sent = await alice.ok(
        'POST',
        `/v1/conversations/${cid}/messages`,
        { clientMsgId: `m${i}`, kind: 'text', body: `hello ${i}` },
        201,
      );
      expect(sent).toMatchObject({ conversationId: cid, seq: i, duplicate: false });
      expect(sent.streamSeq).toBeGreaterThan(0);
    }
    const again = await alice.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'm1', kind: 'text', body: 'hello 1' },
      201,
    );
    expect(again).toMatchObject({ seq: 1, duplicate: true });

    // history (read-your-writes: alice sees her sends at once)
    const page = await alice.ok('GET', `/v1/conversations/${cid}/messages`);
    expect(page.messages.map((m: { body: string }) => m.body)).toEqual(['hello 1', 'hello 2', 'hello 3']);
    expect(page.messages[0]).toMatchObject({
      conversationId: cid,
      seq: 1,
      from: 'alice',
      kind: 'text',
      mentions: [],
      recalled: false,
    });
    const older = await alice.ok('GET', `/v1/conversations/${cid}/messages?beforeSeq=3&limit=1`);
    expect(older).toEqual({ messages: [expect.objectContaining({ seq: 2 })], nextBeforeSeq: 2 });
    expect(await bob.ok('GET', `/v1/conversations/${cid}/messages?afterSeq=1&limit=1`)).toEqual({
      messages: [expect.objectContaining({ seq: 2 })],
      nextAfterSeq: 2,
    });

    // unread and read
    expect(await bob.ok('GET', '/v1/unread')).toEqual({
      total: 3,
      conversations: [{ conversationId: cid, unread: 3 }],
    });
    expect(await bob.ok('POST', `/v1/conversations/${cid}/read`, { seq: 2 })).toEqual({
      conversationId: cid,
      readSeq: 2,
      unread: 1,
    });
    expect(await bob.ok('GET', '/v1/unread')).toMatchObject({ total: 1 });
    const sessions = await bob.ok('GET', '/v1/conversations');
    expect(sessions.conversations[0]).toMatchObject({
      conversationId: cid,
      type: 'group',
      name: 'Team',
      lastSeq: 3,
      readSeq: 2,
      unread: 1,
    });
    expect(sessions.conversations[0].lastMessage).toMatchObject({ seq: 3, body: 'hello 3' });

    // recall keeps a tombstone
    expect(await alice.ok('POST', `/v1/conversations/${cid}/messages/2/recall`)).toEqual({});
    expect((await alice.ok('GET', `/v1/conversations/${cid}/messages`)).messages[1]).toMatchObject({
      seq: 2,
      body: '',
      recalled: true,
    });

    // leave: bob loses access; rejoin: history restarts after the new join seq
    expect(await bob.ok('DELETE', `/v1/groups/${gid}/members/bob`)).toEqual({});
    expect((await bob.call('GET', `/v1/conversations/${cid}/messages`)).status).toBe(403);
    expect((await bob.ok('GET', '/v1/conversations')).conversations).toEqual([]);
    await alice.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'm4', kind: 'text', body: 'while bob was away' },
      201,
    );
    expect(await bob.ok('POST', `/v1/groups/${gid}/members`, { userIds: ['bob'] })).toEqual({
      joined: ['bob'],
    });
    expect(await bob.ok('GET', `/v1/conversations/${cid}/messages`)).toEqual({ messages: [] });
    await alice.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'm5', kind: 'text', body: 'welcome back', mentions: ['bob'] },
      201,
    );
    await alice.ok('GET', `/v1/conversations/${cid}/messages`); // alice's read waits for her write
    expect((await bob.ok('GET', `/v1/conversations/${cid}/messages`)).messages).toEqual([
      expect.objectContaining({ seq: 5, body: 'welcome back', mentions: ['bob'] }),
    ]);
    expect(await bob.ok('GET', '/v1/unread')).toMatchObject({ total: 1 });
    expect((await alice.ok('GET', `/v1/groups/${gid}`)).members).toEqual([
      { userId: 'alice', joinSeq: 0, role: 'owner' },
      { userId: 'bob', joinSeq: 4, role: 'member' },
      { userId: 'carol', joinSeq: 0, role: 'member' },
    ]);

    // only the owner removes others or dissolves
    expect((await carol.call('DELETE', `/v1/groups/${gid}/members/bob`)).status).toBe(403);
    expect((await carol.call('DELETE', `/v1/groups/${gid}`)).status).toBe(403);
    expect(await alice.ok('DELETE', `/v1/groups/${gid}/members/carol`)).toEqual({});
    expect(await alice.ok('DELETE', `/v1/groups/${gid}`)).toEqual({});
    const gone = await bob.call('POST', `/v1/conversations/${cid}/messages`, {
      clientMsgId: 'b1',
      kind: 'text',
      body: 'hello?',
    });
    expect(gone.status).toBe(410);
    expect(gone.body.error.code).toBe('GONE');
    expect(await alice.ok('GET', `/v1/groups/${gid}`)).toMatchObject({ dissolved: true, lastSeq: 5 });
  });

  it('keeps unread on both sides of a direct conversation', async () => {
    const [x, y] = [uniqueName('x'), uniqueName('y')].sort();
    const cid = `d:${x}:${y}`;
    const [ux, uy] = [as(x), as(y)];
    await ux.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'a', kind: 'text', body: 'hi' },
      201,
    );
    await ux.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'b', kind: 'text', body: 'there?' },
      201,
    );
    expect(await ux.ok('GET', '/v1/unread')).toEqual({
      total: 0,
      conversations: [{ conversationId: cid, unread: 0 }],
    });
    expect(await uy.ok('GET', '/v1/unread')).toEqual({
      total: 2,
      conversations: [{ conversationId: cid, unread: 2 }],
    });
    await uy.ok(
      'POST',
      `/v1/conversations/${cid}/messages`,
      { clientMsgId: 'c', kind: 'text', body: 'yes' },
      201,
    );
    expect(await uy.ok('GET', '/v1/unread')).toMatchObject({ total: 0 }); // own message counts as read
    expect(await ux.ok('GET', '/v1/unread')).toEqual({
      total: 1,
      conversations: [{ conversationId: cid, unread: 1 }],
    });
    expect((await ux.ok('GET', '/v1/conversations')).conversations[0]).toMatchObject({
      conversationId: cid,
      type: 'direct',
      lastSeq: 3,
      unread: 1,
      lastMessage: expect.objectContaining({ from: y, body: 'yes' }),
    });
    expect(await ux.ok('POST', `/v1/conversations/${cid}/read`, { seq: 3 })).toMatchObject({
      readSeq: 3,
      unread: 0,
    });
    // a third user is not part of it
    const z = as(uniqueName('z'));
    expect((await z.call('GET', `/v1/conversations/${cid}/messages`)).status).toBe(403);
    expect(
      (
        await z.call('POST', `/v1/conversations/${cid}/messages`, {
          clientMsgId: 'z',
          kind: 'text',
          body: 'me too',
        })
      ).status,
    ).toBe(403);
  });

  it('lets two devices sync every message exactly once, in order', async () => {
    const me = as(uniqueName('sync'));
    const friend = as(uniqueName('friend'));
    const gid = uniqueName('syncg');
    await me.ok('POST', '/v1/groups', { groupId: gid, name: 'Sync', members: [friend.userId] }, 201);
    const [a, b] = [me.userId, friend.userId].sort();
    const dm = `d:${a}:${b}`;
    const send = async (c: Client, cid: string, id: string) =>
      c.ok('POST', `/v1/conversations/${cid}/messages`, { clientMsgId: id, kind: 'text', body: id }, 201);
    for (let i = 0; i < 4; i++) {
      await send(me, `g:${gid}`, `g${i}`);
      await send(friend, dm, `d${i}`);
    }
    const syncAll = async (start: number) => {
      const got: Array<{ streamSeq: number; body: string }> = [];
      let cursor = start;
      for (let page = 0; page < 50; page++) {
        const r = await me.ok('GET', `/v1/sync?cursor=${cursor}&limit=3`);
        got.push(...r.messages);
        cursor = r.cursor;
        if (!r.hasMore) return { got, cursor };
      }
      throw new Error('sync did not finish');
    };
    await me.ok('GET', '/v1/unread'); // settle my writes; the friend's are in the projection once mine are
    await friend.ok('GET', '/v1/unread');
    const first = await syncAll(0); // device 1, part one
    for (let i = 4; i < 6; i++) await send(friend, dm, `d${i}`);
    await friend.ok('GET', '/v1/unread');
    const rest = await syncAll(first.cursor); // device 1 resumes from its cursor
    const device2 = (await syncAll(0)).got; // device 2 from scratch
    const device1 = [...first.got, ...rest.got];
    const expected = [0, 1, 2, 3].flatMap((i) => [`g${i}`, `d${i}`]).concat(['d4', 'd5']);
    expect(device1.map((m) => m.body)).toEqual(expected);
    expect(device2.map((m) => m.body)).toEqual(expected);
    const seqs = device1.map((m) => m.streamSeq);
    expect([...seqs].sort((p, q) => p - q)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  describe('errors', () => {
    const bad = async (r: Promise<{ status: number; body: Json }>, status: number, code?: string) => {
      const res = await r;
      expect({ status: res.status, code: res.body?.error?.code }).toEqual({
        status,
        code: code ?? expect.any(String),
      });
      expect(typeof res.body.error.message).toBe('string');
    };

    it('401: no token, bad signature, expired, alg none, bad subject', async () => {
      const raw = (token?: string) =>
        fetch(`${url}/v1/unread`, { headers: token ? { authorization: `Bearer ${token}` } : {} }).then(
          async (r) => ({
            status: r.status,
            body: await r.json(),
          }),
        );
      await bad(raw(), 401, 'UNAUTHENTICATED');
      await bad(
        raw(signToken({ sub: 'alice' }, { secret: 'another-secret-0123456789' })),
        401,
        'UNAUTHENTICATED',
      );
      await bad(raw(signToken({ sub: 'alice' }, { expiresInS: -10 })), 401, 'UNAUTHENTICATED');
      await bad(raw(signToken({ sub: 'alice' }, { alg: 'none' })), 401, 'UNAUTHENTICATED');
      await bad(raw(signToken({ sub: 'alice' }, { alg: 'HS512' })), 401, 'UNAUTHENTICATED');
      await bad(raw(signToken({ sub: 'a.b' })), 401, 'UNAUTHENTICATED');
      await bad(raw('not-a-jwt'), 401, 'UNAUTHENTICATED');
    });

    it('issues dev tokens that work', async () => {
      const r = await fetch(`${url}/v1/auth/dev-token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ userId: 'devuser' }),
      });
      const { token } = (await r.json()) as { token: string };
      expect(r.status).toBe(200);
      expect(await new Client(url, 'devuser', token).ok('GET', '/v1/unread')).toEqual({
        total: 0,
        conversations: [],
      });
    });

    it('403, 404, 409, 410, 413 and 400 from the API', async () => {
      const owner = as(uniqueName('own'));
      const other = as(uniqueName('oth'));
      const gid = uniqueName('err');
      await owner.ok('POST', '/v1/groups', { groupId: gid, name: 'Errors', members: [] }, 201);
      await owner.ok('GET', `/v1/groups/${gid}`); // projected (others do not wait for the owner's writes)
      // 409: the group exists
      await bad(
        owner.call('POST', '/v1/groups', { groupId: gid, name: 'Again', members: [] }),
        409,
        'ALREADY_EXISTS',
      );
      // 403: not a member
      await bad(other.call('GET', `/v1/conversations/g:${gid}/messages`), 403, 'FORBIDDEN');
      await bad(
        other.call('POST', `/v1/conversations/g:${gid}/messages`, {
          clientMsgId: 'x',
          kind: 'text',
          body: 'x',
        }),
        403,
        'FORBIDDEN',
      );
      await bad(other.call('GET', `/v1/groups/${gid}`), 403, 'FORBIDDEN');
      // 404: no such group or conversation or message
      await bad(other.call('GET', `/v1/groups/${uniqueName('nope')}`), 404, 'NOT_FOUND');
      await bad(other.call('GET', `/v1/conversations/g:${uniqueName('nope')}/messages`), 404, 'NOT_FOUND');
      await bad(owner.call('POST', `/v1/conversations/g:${gid}/messages/99/recall`), 404, 'NOT_FOUND');
      await bad(owner.call('GET', '/v1/nothing-here'), 404, 'NOT_FOUND');
      // 413: a message body over IM_MAX_BODY_BYTES, and a request body over IM_HTTP_MAX_BODY_BYTES
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/messages`, {
          clientMsgId: 'big',
          kind: 'text',
          body: 'x'.repeat(16 * 1024 + 1),
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/messages`, {
          clientMsgId: 'huge',
          kind: 'text',
          body: 'x'.repeat(300 * 1024),
        }),
        413,
        'PAYLOAD_TOO_LARGE',
      );
      // 400: malformed JSON, bad ids, missing fields, bad paging
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/messages`, '{"clientMsgId":'),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/messages`, { kind: 'text', body: 'x' }),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/messages`, { clientMsgId: 'bad id', body: 'x' }),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/messages`, {
          clientMsgId: 'k',
          kind: 'video',
          body: 'x',
        }),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(owner.call('GET', '/v1/conversations/d:bob:alice/messages'), 400, 'INVALID_ARGUMENT');
      await bad(owner.call('GET', '/v1/conversations/g:a*b/messages'), 400, 'INVALID_ARGUMENT');
      await bad(owner.call('GET', '/v1/conversations/team/messages'), 400, 'INVALID_ARGUMENT');
      await bad(owner.call('GET', '/v1/groups/bad%20id'), 400, 'INVALID_ARGUMENT');
      await bad(
        owner.call('POST', '/v1/groups', { groupId: 'a:b', name: 'x', members: [] }),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(
        owner.call('POST', '/v1/groups', { name: 'x', members: ['ok', 'not ok'] }),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(
        owner.call('GET', `/v1/conversations/g:${gid}/messages?limit=100000`),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(
        owner.call('GET', `/v1/conversations/g:${gid}/messages?afterSeq=-1`),
        400,
        'INVALID_ARGUMENT',
      );
      await bad(owner.call('GET', '/v1/sync?cursor=abc'), 400, 'INVALID_ARGUMENT');
      await bad(owner.call('POST', `/v1/conversations/g:${gid}/messages/0/recall`), 400, 'INVALID_ARGUMENT');
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/read`, { seq: 'one' }),
        400,
        'INVALID_ARGUMENT',
      );
      // 410: dissolved
      await owner.ok('DELETE', `/v1/groups/${gid}`);
      await bad(
        owner.call('POST', `/v1/conversations/g:${gid}/messages`, {
          clientMsgId: 'late',
          kind: 'text',
          body: 'x',
        }),
        410,
        'GONE',
      );
      await bad(owner.call('POST', `/v1/groups/${gid}/members`, { userIds: [other.userId] }), 410, 'GONE');
    });

    it('429 once a user exceeds the rate, per user, with Retry-After', async () => {
      const limited = await startGateway({
        ...sys.env,
        IM_RATE_LIMIT_PER_SEC: '1',
        IM_RATE_LIMIT_BURST: '3',
      });
      try {
        const u = new Client(limited.url, uniqueName('rl'));
        const statuses: number[] = [];
        for (let i = 0; i < 5; i++) statuses.push((await u.call('GET', '/v1/unread')).status);
        expect(statuses).toEqual([200, 200, 200, 429, 429]);
        const r = await u.call('GET', '/v1/unread');
        expect(r.body.error.code).toBe('RATE_LIMITED');
        expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect((await new Client(limited.url, uniqueName('rl2')).call('GET', '/v1/unread')).status).toBe(200);
      } finally {
        await limited.close();
      }
    });

    it('503 when no actor host answers (a nats-server without one)', async () => {
      const lonely = await NatsServer.start();
      let gw: TestGateway | undefined;
      try {
        gw = await startGateway({ ...sys.env, NATS_URL: lonely.url, IM_COMMAND_TIMEOUT_MS: '500' });
        const u = new Client(gw.url, uniqueName('u'));
        await bad(u.call('POST', '/v1/groups', { name: 'x', members: [] }), 503, 'UNAVAILABLE');
        await bad(
          u.call('POST', '/v1/conversations/g:x/messages', { clientMsgId: 'a', kind: 'text', body: 'x' }),
          503,
          'UNAVAILABLE',
        );
        // reads still work: they come from the projections
        expect((await u.call('GET', '/v1/unread')).status).toBe(200);
      } finally {
        await gw?.close();
        await lonely.dispose();
      }
    });
  });

  describe('operations', () => {
    it('reports readiness of NATS, MySQL and Redis, serves metrics, OpenAPI and the web client', async () => {
      const ready = await fetch(`${url}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ok', nats: true, mysql: true, redis: true });
      expect(await (await fetch(`${url}/health/live`)).json()).toEqual({ status: 'ok' });
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toContain('parley_http_requests_total{method="POST",route="/v1/groups",status="201"}');
      expect(metrics).toContain('parley_http_request_duration_seconds_bucket');
      expect(metrics).toMatch(/parley_projection_lag\{projection="history"\} \d+/);
      expect(metrics).toMatch(/parley_live_actors\{kind="conversation"\} [1-9]/);
      const doc = (await (await fetch(`${url}/docs/json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/v1/groups',
          '/v1/groups/{groupId}',
          '/v1/groups/active',
          '/v1/groups/{groupId}/members',
          '/v1/groups/{groupId}/members/{userId}',
          '/v1/conversations/{cid}/messages',
          '/v1/conversations/{cid}/messages/{seq}/recall',
          '/v1/conversations/{cid}/read',
          '/v1/conversations',
          '/v1/unread',
          '/v1/sync',
          '/v1/auth/dev-token',
          '/health/ready',
        ]),
      );
      expect((await fetch(`${url}/docs`)).status).toBe(200);
      const page = await fetch(`${url}/`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('/v1/ws');
      const r = await fetch(`${url}/health/live`, { headers: { 'x-request-id': 'req-123' } });
      expect(r.headers.get('x-request-id')).toBe('req-123');
    });

    it('ranks active groups', async () => {
      const u = as(uniqueName('hot'));
      const gid = uniqueName('hotg');
      await u.ok('POST', '/v1/groups', { groupId: gid, name: 'Hot', members: [] }, 201);
      await u.ok(
        'POST',
        `/v1/conversations/g:${gid}/messages`,
        { clientMsgId: 'h', kind: 'text', body: 'x' },
        201,
      );
      await u.ok('GET', '/v1/unread');
      const { groups } = await u.ok('GET', '/v1/groups/active?limit=100');
      expect(groups).toContainEqual(
        expect.objectContaining({ conversationId: `g:${gid}`, name: 'Hot', speakers: 1 }),
      );
    });
  });
});
