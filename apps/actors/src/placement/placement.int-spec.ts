import { type NatsConnection } from 'nats';
import { conversationActorKey, conversationEventSubject, decodeEvent, partitionOf } from '@parley/contracts';
import { connectToNats, JetStreamEventLog } from '@parley/event-log';
import { NatsServer, waitFor } from '@parley/testing';
import { startTestActorHost, type TestActorHost } from '../actor-host.fixture';
import { abandonLeases, suspendLeases } from './lease-faults';
import { PartitionLeases } from './partition-leases';

const enc = new TextEncoder();
const dec = new TextDecoder();
const TTL = 2_000;
const P = 32;

type Reply = { ok: true; result: Record<string, unknown> } | { ok: false; error: { code: string } };

async function call(nc: NatsConnection, subject: string, body: unknown): Promise<Reply> {
  const m = await nc.request(subject, enc.encode(JSON.stringify(body)), { timeout: 10_000 });
  return JSON.parse(dec.decode(m.data)) as Reply;
}

const owned = (h: TestActorHost) => h.service.leases!.owned().length;

describe('partition placement (own nats-server, lease ttl 2 s)', () => {
  let server: NatsServer;
  let client: NatsConnection;
  const hosts: TestActorHost[] = [];

  beforeEach(async () => {
    server = await NatsServer.start();
    client = await connectToNats({ servers: server.url, name: 'placement-test' });
  });
  afterEach(async () => {
    await Promise.all(hosts.splice(0).map((h) => h.stop().catch(() => undefined)));
    await client?.close();
    await server?.dispose();
  });

  async function host(id: string): Promise<TestActorHost> {
    const h = await startTestActorHost(server.url, {
      IM_HOST_ID: id,
      IM_LEASE_TTL_MS: String(TTL),
      IM_PARTITIONS: String(P),
      LOG_LEVEL: 'warn',
    });
    hosts.push(h);
    return h;
  }

  it('leases › a lone host holds every partition after its first round; a joining host gets its fair share', async () => {
    const t0 = Date.now();
    const a = await host('a');
    expect(owned(a)).toBe(P);
    const b = await host('b');
    const joined = Date.now();
    await waitFor(() => owned(a) === P / 2 && owned(b) === P / 2, {
      timeoutMs: 10_000,
      message: 'a 16/16 split',
    });
    const rebalanceMs = Date.now() - joined;
    console.log(`placement: lone host ready in ${joined - t0} ms; join rebalanced in ${rebalanceMs} ms`);
    expect(rebalanceMs).toBeLessThan(3 * TTL);
    // Owners never overlap.
    const both = [...a.service.leases!.owned(), ...b.service.leases!.owned()];
    expect(new Set(both).size).toBe(P);
  });

  it('routing › a command sent to a non-owner reaches the owner; two hosts under load meet no conflicts', async () => {
    const a = await host('a');
    const b = await host('b');
    await waitFor(() => owned(a) === P / 2 && owned(b) === P / 2, { timeoutMs: 10_000 });
    // A conversation owned by a, executed through b's router: b forwards, a runs it.
    const cid = Array.from({ length: 100 }, (_, i) => `g:route${i}`).find((c) =>
      a.service.leases!.canServe(partitionOf(conversationActorKey(c), P)),
    )!;
    const servedBefore = a.service.router!.stats.served;
    const reply = await b.service.router!.route(
      {
        target: 'conv',
        conversationId: cid,
        op: 'create',
        request: { by: 'u1', name: 'r', members: ['u2'] },
      },
      `conv.${cid}.create`,
      enc.encode(JSON.stringify({ by: 'u1', name: 'r', members: ['u2'] })),
    );
    expect(reply).toEqual({ ok: true, result: { conversationId: cid, streamSeq: 1 } });
    expect(a.service.router!.stats.served).toBe(servedBefore + 1);
    expect(b.service.router!.stats.forwarded).toBeGreaterThan(0);

    // 20 groups, 1,000 sends through the queue group (either host receives each one).
    const groups = Array.from({ length: 20 }, (_, i) => `load${i}`);
    for (const g of groups)
      expect(
        (await call(client, `im.cmd.conv.g:${g}.create`, { by: 'u1', name: g, members: ['u2'] })).ok,
      ).toBe(true);
    const replies = await Promise.all(
      Array.from({ length: 1_000 }, (_, i) =>
        call(client, `im.cmd.conv.g:${groups[i % 20]}.send`, {
          from: 'u1',
          clientMsgId: `m${i}`,
          kind: 'text',
          body: `x${i}`,
        }),
      ),
    );
    expect(replies.every((r) => r.ok)).toBe(true);
    const log = await JetStreamEventLog.create(client);
    for (const g of groups) {
      const seqs = (await log.readSubject(conversationEventSubject(`g:${g}`)))
        .map((e) => decodeEvent(e.data))
        .flatMap((e) => (e.type === 'MessageSent' ? [e.data.seq] : []));
      expect(seqs).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    }
    expect(a.service.handler.stats.conflicts + b.service.handler.stats.conflicts).toBe(0);
    expect(a.service.router!.stats.served + b.service.router!.stats.served).toBeGreaterThan(0);
  });

  it('routing › durable ingress commands consumed by either host reach their owners and are answered', async () => {
    const a = await host('a');
    const b = await host('b');
    await waitFor(() => owned(a) === P / 2 && owned(b) === P / 2, { timeoutMs: 10_000 });
    const groups = Array.from({ length: 20 }, (_, i) => `in${i}`);
    for (const g of groups)
      expect(
        (await call(client, `im.cmd.conv.g:${g}.create`, { by: 'u1', name: g, members: ['u2'] })).ok,
      ).toBe(true);
    const forwardedBefore = a.service.router!.stats.forwarded + b.service.router!.stats.forwarded;

    const total = 200;
    const inbox = client.subscribe('replies.ingress.placement', { max: total });
    const js = client.jetstream();
    const { headers } = await import('nats');
    for (let i = 0; i < total; i++) {
      const h = headers();
      h.set('Im-Reply-To', 'replies.ingress.placement');
      await js.publish(
        `im.in.conv.g:${groups[i % 20]}.send`,
        enc.encode(JSON.stringify({ from: 'u1', clientMsgId: `in-${i}`, kind: 'text', body: `x${i}` })),
        { msgID: `in-${i}`, headers: h },
      );
    }
    const replies = new Map<string, Reply>();
    const collected = (async () => {
      for await (const m of inbox)
        replies.set(m.headers!.get('Im-Command-Id'), JSON.parse(dec.decode(m.data)) as Reply);
    })();
    await waitFor(() => replies.size === total, { timeoutMs: 30_000, message: 'every ingress reply' });
    await collected;
    expect([...replies.values()].every((r) => r.ok)).toBe(true);

    const log = await JetStreamEventLog.create(client);
    for (const g of groups) {
      const seqs = (await log.readSubject(conversationEventSubject(`g:${g}`)))
        .map((e) => decodeEvent(e.data))
        .flatMap((e) => (e.type === 'MessageSent' ? [e.data.seq] : []));
      expect(seqs).toEqual(Array.from({ length: total / 20 }, (_, i) => i + 1));
    }
    // Half the partitions live on the other host: some ingress commands had to be forwarded.
    expect(a.service.router!.stats.forwarded + b.service.router!.stats.forwarded).toBeGreaterThan(
      forwardedBefore,
    );
    expect(a.service.handler.stats.conflicts + b.service.handler.stats.conflicts).toBe(0);
  });

  it('leases › a host that stops renewing stops serving before anyone else can take its partitions', async () => {
    const serveAt = new Map<number, number>();
    const paused = new PartitionLeases(
      client,
      { partitions: 4, ttlMs: TTL, hostId: 'paused', replicas: 1, casSafe: true, bucket: 'T_LEASES' },
      { onServe: () => undefined, onStop: () => undefined },
    );
    await paused.start();
    expect(paused.owned()).toEqual([0, 1, 2, 3]);
    const trustedUntil = Math.max(...[0, 1, 2, 3].map((p) => paused.notAfter(p)));
    suspendLeases(paused); // like a GC pause or a lost connection: no more renewals, nothing released
    const nc2 = await connectToNats({ servers: server.url, name: 'taker' });
    const taker = new PartitionLeases(
      nc2,
      { partitions: 4, ttlMs: TTL, hostId: 'taker', replicas: 1, casSafe: true, bucket: 'T_LEASES' },
      { onServe: (p) => serveAt.set(p, Date.now()), onStop: () => undefined },
    );
    try {
      await taker.start();
      await waitFor(() => taker.owned().length === 4, { timeoutMs: 4 * TTL, message: 'takeover' });
      for (const p of [0, 1, 2, 3]) expect(paused.canServe(p)).toBe(false);
      const firstTakeover = Math.min(...serveAt.values());
      console.log(
        `placement: expiry takeover ${firstTakeover - trustedUntil} ms after the paused owner's own deadline`,
      );
      expect(firstTakeover).toBeGreaterThan(trustedUntil);
    } finally {
      await taker.stop();
      await nc2.close();
    }
  });

  it('leases › a host that dies loses its partitions after the ttl; a graceful stop hands them over at once', async () => {
    const a = await host('a');
    const b = await host('b');
    await waitFor(() => owned(a) === P / 2 && owned(b) === P / 2, { timeoutMs: 10_000 });
    // Crash of b: no handover, its connection just goes away (afterEach still stops its consumer loop).
    abandonLeases(b.service.leases!);
    await b.nats.nc.close();
    const died = Date.now();
    await waitFor(() => owned(a) === P, { timeoutMs: 4 * TTL, intervalMs: 20, message: 'a holds all' });
    const deathMs = Date.now() - died;
    const c = await host('c');
    await waitFor(() => owned(a) === P / 2 && owned(c) === P / 2, { timeoutMs: 10_000 });
    const stopping = Date.now();
    await c.stop();
    hosts.splice(hosts.indexOf(c), 1);
    await waitFor(() => owned(a) === P, { timeoutMs: 4 * TTL, intervalMs: 20 });
    const gracefulMs = Date.now() - stopping;
    console.log(
      `placement: rebalance after a host died ${deathMs} ms (ttl ${TTL}); after a graceful stop ${gracefulMs} ms`,
    );
    expect(deathMs).toBeLessThan(TTL + 2_000);
    expect(gracefulMs).toBeLessThan(TTL);
  });
});
