import { type NatsConnection } from 'nats';
import { conversationEventSubject, decodeEvent } from '@parley/contracts';
import { connectToNats, JetStreamEventLog } from '@parley/event-log';
import { NatsServer } from '@parley/testing';
import { startTestActorHost, type TestActorHost } from './actor-host.fixture';

type Reply =
  { ok: true; result: Record<string, unknown> } | { ok: false; error: { code: string; message: string } };

const enc = new TextEncoder();
const dec = new TextDecoder();

async function call(nc: NatsConnection, subject: string, body: unknown, raw?: Uint8Array): Promise<Reply> {
  const m = await nc.request(subject, raw ?? enc.encode(JSON.stringify(body)), { timeout: 15_000 });
  return JSON.parse(dec.decode(m.data)) as Reply;
}

/** Every MessageSent seq in a conversation's subject, in log order. */
async function loggedSeqs(
  log: JetStreamEventLog,
  cid: string,
): Promise<Array<{ seq: number; clientMsgId: string; streamSeq: number }>> {
  const out: Array<{ seq: number; clientMsgId: string; streamSeq: number }> = [];
  for (const e of await log.readSubject(conversationEventSubject(cid))) {
    const ev = decodeEvent(e.data);
    if (ev.type === 'MessageSent')
      out.push({ seq: ev.data.seq, clientMsgId: ev.data.clientMsgId, streamSeq: e.streamSeq });
  }
  return out;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('actor host (own nats-server)', () => {
  let server: NatsServer;
  let client: NatsConnection;
  let log: JetStreamEventLog;
  const hosts: TestActorHost[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    client = await connectToNats({ servers: server.url, name: 'client' });
    log = await JetStreamEventLog.create(client);
  });
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.stop()));
  });
  afterAll(async () => {
    await client?.close();
    await server?.dispose();
  });

  async function host(env: Record<string, string> = {}): Promise<TestActorHost> {
    const h = await startTestActorHost(server.url, env);
    hosts.push(h);
    return h;
  }

  async function createGroup(gid: string, owner: string, members: string[]): Promise<void> {
    const r = await call(client, `im.cmd.conv.g:${gid}.create`, { by: owner, name: gid, members });
    expect(r).toEqual({ ok: true, result: { conversationId: `g:${gid}`, streamSeq: expect.any(Number) } });
  }

  it('2,000 concurrent sends from 50 senders to one group: the log holds seqs exactly 1..2000', async () => {
    await host();
    const senders = range(50).map((i) => `s${i}`);
    await createGroup('busy', 's1', senders);
    const replies = await Promise.all(
      range(2_000).map((i) =>
        call(client, 'im.cmd.conv.g:busy.send', {
          from: senders[i % 50],
          clientMsgId: `c${i}`,
          kind: 'text',
          body: `m${i}`,
        }),
      ),
    );
    expect(replies.every((r) => r.ok)).toBe(true);
    const logged = await loggedSeqs(log, 'g:busy');
    expect(logged.map((e) => e.seq)).toEqual(range(2_000));
    const byClientMsgId = new Map(logged.map((e) => [e.clientMsgId, e]));
    replies.forEach((r, i) => {
      const acked = (r as unknown as { result: { seq: number; streamSeq: number; duplicate: boolean } })
        .result;
      const stored = byClientMsgId.get(`c${i + 1}`)!;
      expect(acked).toMatchObject({ seq: stored.seq, streamSeq: stored.streamSeq, duplicate: false });
    });
  });

  it('two hosts racing on the same conversations still give 1..N with no gap and no repeat', async () => {
    // Without partitioning both hosts take every conversation: this is the race the guard must survive.
    const a = await host({ IM_PARTITIONING: 'off' });
    const b = await host({ IM_PARTITIONING: 'off' });
    const groups = ['race1', 'race2', 'race3'];
    for (const g of groups) await createGroup(g, 'u1', ['u2', 'u3']);
    // Each host gets its own client connection's commands through the queue group; to force racing,
    // call the hosts' handlers directly and concurrently as well.
    const sends = range(600).map(async (i) => {
      const g = groups[i % 3];
      const via = i % 3 === 0 ? 'nats' : i % 3 === 1 ? 'a' : 'b';
      const request = { from: `u${(i % 3) + 1}`, clientMsgId: `r${i}`, kind: 'text', body: `x${i}` };
      if (via === 'nats') return call(client, `im.cmd.conv.g:${g}.send`, request);
      const h = via === 'a' ? a : b;
      const result = await h.service.handler.execute({
        target: 'conv',
        conversationId: `g:${g}`,
        op: 'send',
        request,
      } as never);
      return { ok: true, result } as Reply;
    });
    const replies = await Promise.all(sends);
    expect(replies.every((r) => r.ok)).toBe(true);
    for (const g of groups) {
      const seqs = (await loggedSeqs(log, `g:${g}`)).map((e) => e.seq);
      expect(seqs).toEqual(range(200));
    }
    const conflicts = a.service.handler.stats.conflicts + b.service.handler.stats.conflicts;
    console.log(`two hosts racing: ${conflicts} expected-sequence conflicts for 600 sends`);
    expect(conflicts).toBeGreaterThan(0);
  });

  it('a retried send answers the original seq with duplicate: true, before and after a host restart', async () => {
    const h1 = await host();
    await createGroup('dedup', 'alice', ['bob']);
    const first = await call(client, 'im.cmd.conv.g:dedup.send', {
      from: 'alice',
      clientMsgId: 'same',
      kind: 'text',
      body: 'hi',
    });
    expect(first).toMatchObject({ ok: true, result: { seq: 1, duplicate: false } });
    const again = await call(client, 'im.cmd.conv.g:dedup.send', {
      from: 'alice',
      clientMsgId: 'same',
      kind: 'text',
      body: 'hi',
    });
    const original = (first as { result: Record<string, unknown> }).result;
    expect(again).toEqual({ ok: true, result: { ...original, duplicate: true } });
    // bob may use the same clientMsgId: it is unique per sender.
    expect(
      await call(client, 'im.cmd.conv.g:dedup.send', {
        from: 'bob',
        clientMsgId: 'same',
        kind: 'text',
        body: 'yo',
      }),
    ).toMatchObject({
      ok: true,
      result: { seq: 2, duplicate: false },
    });

    await h1.stop();
    hosts.splice(hosts.indexOf(h1), 1);
    await host();
    const afterRestart = await call(client, 'im.cmd.conv.g:dedup.send', {
      from: 'alice',
      clientMsgId: 'same',
      kind: 'text',
      body: 'hi',
    });
    expect(afterRestart).toEqual({ ok: true, result: { ...original, duplicate: true } });
    expect((await loggedSeqs(log, 'g:dedup')).map((e) => e.clientMsgId)).toEqual(['same', 'same']);
    expect((await loggedSeqs(log, 'g:dedup')).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('answers malformed input with the right error code and keeps serving', async () => {
    await host();
    await createGroup('strict', 'alice', ['bob']);
    const cases: Array<[string, Uint8Array | unknown, string]> = [
      ['im.cmd.conv.g:strict.send', enc.encode('{not json'), 'INVALID_ARGUMENT'],
      ['im.cmd.conv.g:strict.explode', { by: 'alice' }, 'INVALID_ARGUMENT'],
      ['im.cmd.conv.g:strict.send', { from: 'alice', kind: 'text', body: 'no id' }, 'INVALID_ARGUMENT'],
      [
        'im.cmd.conv.g:strict.send',
        { from: 'al.ice', clientMsgId: 'c', kind: 'text', body: 'x' },
        'INVALID_ARGUMENT',
      ],
      [
        'im.cmd.conv.g:strict.send',
        { from: 'al*ice', clientMsgId: 'c', kind: 'text', body: 'x' },
        'INVALID_ARGUMENT',
      ],
      [
        'im.cmd.conv.g:strict.send',
        { from: 'al>ice', clientMsgId: 'c', kind: 'text', body: 'x' },
        'INVALID_ARGUMENT',
      ],
      [
        'im.cmd.conv.g:strict.send',
        { from: 'al ice', clientMsgId: 'c', kind: 'text', body: 'x' },
        'INVALID_ARGUMENT',
      ],
      [
        'im.cmd.conv.g:strict.send',
        { from: 'alice', clientMsgId: 'c', kind: 'text', body: 'x'.repeat(1024 * 1024) },
        'PAYLOAD_TOO_LARGE',
      ],
      [
        'im.cmd.conv.g:strict.send',
        { from: 'mallory', clientMsgId: 'c', kind: 'text', body: 'x' },
        'FORBIDDEN',
      ],
      ['im.cmd.conv.g:nope.send', { from: 'alice', clientMsgId: 'c', kind: 'text', body: 'x' }, 'NOT_FOUND'],
      ['im.cmd.conv.g:strict.create', { by: 'alice', name: 'again', members: [] }, 'ALREADY_EXISTS'],
      ['im.cmd.user.alice.read', { conversationId: 'g:strict' }, 'INVALID_ARGUMENT'],
    ];
    for (const [subject, body, code] of cases) {
      const raw = body instanceof Uint8Array ? body : undefined;
      const r = await call(client, subject, body, raw);
      expect({ subject, code: r.ok ? 'ok' : r.error.code }).toEqual({ subject, code });
    }
    // A space in a subject cannot travel on NATS at all (it splits the protocol line): the request
    // never reaches a host and the caller sees a timeout, while the host keeps serving.
    await expect(
      client.request('im.cmd.conv.g:str ict.send', enc.encode('{}'), { timeout: 500 }),
    ).rejects.toThrow();
    expect(
      await call(client, 'im.cmd.conv.g:strict.send', {
        from: 'alice',
        clientMsgId: 'ok',
        kind: 'text',
        body: 'fine',
      }),
    ).toMatchObject({
      ok: true,
      result: { seq: 1 },
    });
  });

  it('markRead clamps to lastSeq, never moves backwards, and answers readSeq and unread', async () => {
    await host();
    await createGroup('reads', 'alice', ['bob']);
    for (const i of range(5)) {
      await call(client, 'im.cmd.conv.g:reads.send', {
        from: 'alice',
        clientMsgId: `m${i}`,
        kind: 'text',
        body: 'b',
      });
    }
    const first = await call(client, 'im.cmd.user.bob.read', { conversationId: 'g:reads', seq: 3 });
    expect(first).toEqual({
      ok: true,
      result: { conversationId: 'g:reads', readSeq: 3, unread: 2, streamSeq: expect.any(Number) },
    });
    const landed = (first as unknown as { result: { streamSeq: number } }).result.streamSeq;
    expect((await log.readLast('im.evt.user.bob'))?.streamSeq).toBe(landed);
    // A no-op (backwards) answers the position of the user's last event: read-your-writes needs no lookup.
    expect(await call(client, 'im.cmd.user.bob.read', { conversationId: 'g:reads', seq: 1 })).toEqual({
      ok: true,
      result: { conversationId: 'g:reads', readSeq: 3, unread: 2, streamSeq: landed },
    });
    expect(await call(client, 'im.cmd.user.bob.read', { conversationId: 'g:reads', seq: 99 })).toEqual({
      ok: true,
      result: { conversationId: 'g:reads', readSeq: 5, unread: 0, streamSeq: expect.any(Number) },
    });
    expect(
      await call(client, 'im.cmd.user.mallory.read', { conversationId: 'g:reads', seq: 1 }),
    ).toMatchObject({
      ok: false,
      error: { code: 'FORBIDDEN' },
    });
  });

  it("every write answers where it landed; a no-op answers the subject's last event", async () => {
    await host();
    const subject = conversationEventSubject('g:landed');
    const created = await call(client, 'im.cmd.conv.g:landed.create', {
      by: 'alice',
      name: 'l',
      members: [],
    });
    const position = async () => (await log.readLast(subject))!.streamSeq;
    expect(created).toMatchObject({ ok: true, result: { streamSeq: await position() } });
    const joined = await call(client, 'im.cmd.conv.g:landed.join', { by: 'alice', userIds: ['bob'] });
    expect(joined).toEqual({ ok: true, result: { joined: ['bob'], streamSeq: await position() } });
    const again = await call(client, 'im.cmd.conv.g:landed.join', { by: 'alice', userIds: ['bob'] });
    expect(again).toEqual({ ok: true, result: { joined: [], streamSeq: await position() } });
    await call(client, 'im.cmd.conv.g:landed.send', {
      from: 'bob',
      clientMsgId: 'x',
      kind: 'text',
      body: 'b',
    });
    const recalled = await call(client, 'im.cmd.conv.g:landed.recall', { by: 'bob', seq: 1 });
    expect(recalled).toEqual({ ok: true, result: { streamSeq: await position() } });
    const twice = await call(client, 'im.cmd.conv.g:landed.recall', { by: 'bob', seq: 1 });
    expect(twice).toEqual({ ok: true, result: { streamSeq: await position() } });
    const left = await call(client, 'im.cmd.conv.g:landed.leave', { by: 'bob', userId: 'bob' });
    expect(left).toEqual({ ok: true, result: { streamSeq: await position() } });
    const gone = await call(client, 'im.cmd.conv.g:landed.dissolve', { by: 'alice' });
    expect(gone).toEqual({ ok: true, result: { streamSeq: await position() } });
  });

  it('ingress: a durable command is appended, acked, and answered on Im-Reply-To', async () => {
    await host();
    await createGroup('ingress', 'alice', ['bob']);
    const inbox = client.subscribe('replies.ingress', { max: 2 });
    const js = client.jetstream();
    const { headers } = await import('nats');
    for (const [id, body] of [
      ['i1', { from: 'alice', clientMsgId: 'in-1', kind: 'text', body: 'durable' }],
      ['i2', { from: 'alice', clientMsgId: 'in-2', kind: 'text', body: 'x'.repeat(20_000) }],
    ] as const) {
      const h = headers();
      h.set('Im-Reply-To', 'replies.ingress');
      await js.publish('im.in.conv.g:ingress.send', enc.encode(JSON.stringify(body)), {
        msgID: id,
        headers: h,
      });
    }
    // Replies can arrive in any order; Im-Command-Id says which command each one answers.
    const got: Record<string, Reply> = {};
    for await (const m of inbox)
      got[m.headers?.get('Im-Command-Id') ?? '?'] = JSON.parse(dec.decode(m.data)) as Reply;
    expect(got.i1).toMatchObject({ ok: true, result: { seq: 1, duplicate: false } });
    expect(got.i2).toMatchObject({ ok: false, error: { code: 'PAYLOAD_TOO_LARGE' } });
    expect((await loggedSeqs(log, 'g:ingress')).map((e) => e.clientMsgId)).toEqual(['in-1']);
  });
});
