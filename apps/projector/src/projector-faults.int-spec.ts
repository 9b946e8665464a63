import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { connectToNats, ensureStreams } from '@parley/event-log';
import {
  createTestDatabase,
  MariaDbServer,
  NatsServer,
  RedisServer,
  sharedInfra,
  uniqueName,
  waitFor,
} from '@parley/testing';
import { type NatsConnection } from 'nats';
import { checkProjections } from './check';
import { rebuildProjection } from './rebuild';
import { generateEvents, publishEvents } from './testing/event-generator';
import { dumpMysql, dumpRedis, openHarness } from './testing/projection-harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ROOT = join(__dirname, '..', '..', '..');

describe('projector faults', () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    // A fresh IM_EVENTS per test: each scenario compares against its own log.
    nats = await NatsServer.start();
    nc = await connectToNats({ servers: nats.url, name: 'faults-test' });
    await ensureStreams(await nc.jetstreamManager(), { replicas: 1 });
  });

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
    await nc?.close();
    await nats?.dispose();
  });

  it('MySQL killed for 5 s during a stream: afterwards every message is in MySQL exactly once', async () => {
    const mariadb = await MariaDbServer.start();
    cleanups.push(() => mariadb.dispose());
    const h = await openHarness(
      nc,
      await createTestDatabase(mariadb.url, 'parley_fault'),
      sharedInfra().redisUrl,
      `${uniqueName('fault')}:`,
    );
    cleanups.push(() => h.close());
    await h.start({ batchSize: 100, backoffMs: { initial: 100, max: 1_000 } });

    const events = generateEvents(4_000, { seed: 11 });
    const sent = events.filter((e) => e.event.type === 'MessageSent').length;
    // Published in slices while MySQL goes down and comes back.
    const publishing = (async () => {
      let last = 0;
      for (let i = 0; i < events.length; i += 200) {
        last = await publishEvents(nc.jetstream(), events.slice(i, i + 200));
        await sleep(300);
      }
      return last;
    })();
    await sleep(1_000);
    await mariadb.kill();
    await sleep(5_000);
    await mariadb.restart();
    const lastSeq = await publishing;

    await h.waitFor(lastSeq, 60_000);
    const history = h.runners.find((r) => r.projection.name === 'history')!;
    expect(history.stats.failures).toBeGreaterThan(0); // the outage was seen…
    expect(history.stats.poisoned).toBe(0); // …and never mistaken for poison
    const [{ n, uniq }] = (await h.db.dataSource.query(
      'SELECT COUNT(*) AS n, COUNT(DISTINCT stream_seq) AS uniq FROM messages',
    )) as Array<{ n: number; uniq: number }>;
    expect([Number(n), Number(uniq)]).toEqual([sent, sent]);
    expect((await checkProjections(nc, { db: h.db })).differences).toEqual([]);
  });

  it('Redis flushed entirely, then rebuilt: every unread count equals what it was before', async () => {
    const redis = await RedisServer.start();
    cleanups.push(() => redis.dispose());
    const { mysqlUrl } = sharedInfra();
    const h = await openHarness(
      nc,
      await createTestDatabase(mysqlUrl, uniqueName('flush')),
      redis.url,
      'im:',
    );
    cleanups.push(() => h.close());
    await h.start({ batchSize: 200 });
    const lastSeq = await publishEvents(nc.jetstream(), generateEvents(3_000, { seed: 23 }));
    await h.waitFor(lastSeq);
    await h.stop();

    const users = Array.from({ length: 40 }, (_, i) => `u${i}`);
    const unread = async () => Promise.all(users.map((u) => h.readModel.unread(u)));
    const before = await unread();
    expect(before.reduce((s, u) => s + u.total, 0)).toBeGreaterThan(0);
    const keysBefore = await dumpRedis(h.redis);

    await h.redis.client.flushall();
    expect((await unread()).every((u) => u.total === 0)).toBe(true);
    await rebuildProjection(nc, h.counters);

    expect(await unread()).toEqual(before);
    expect(await dumpRedis(h.redis)).toEqual(keysBefore);
  });

  it('killed with -9 in the middle of a batch, restarted: the same state as a rebuild from the log', async () => {
    const { mysqlUrl, redisUrl } = sharedInfra();
    const env = {
      ...process.env,
      NATS_URL: nats.url,
      MYSQL_URL: await createTestDatabase(mysqlUrl, uniqueName('kill')),
      REDIS_URL: redisUrl,
      IM_REDIS_PREFIX: `${uniqueName('kill')}:`,
      IM_PROJECTION_BATCH_SIZE: '50',
      IM_PROJECTION_ACK_WAIT_MS: '2000',
      LOG_LEVEL: 'warn',
    };
    const startProjector = (): ChildProcess => {
      const child = spawn(process.execPath, ['scripts/run-ts.js', 'apps/projector/src/main.ts'], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      cleanups.push(async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      });
      return child;
    };
    // The reference: the same log, rebuilt by a harness of its own.
    const reference = await openHarness(
      nc,
      await createTestDatabase(mysqlUrl, uniqueName('ref')),
      redisUrl,
      `${uniqueName('ref')}:`,
    );
    cleanups.push(() => reference.close());

    let projector = startProjector();
    const watcher = await openHarness(nc, env.MYSQL_URL, redisUrl, env.IM_REDIS_PREFIX);
    cleanups.push(() => watcher.close());
    const publishing = publishEvents(nc.jetstream(), generateEvents(6_000, { seed: 31 }), 64);
    await waitFor(async () => (await watcher.history.position()) > 1_500, {
      timeoutMs: 60_000,
      intervalMs: 5,
    });
    projector.kill('SIGKILL');
    await new Promise((r) => projector.once('exit', r));
    const lastSeq = await publishing;
    expect(await watcher.history.position()).toBeLessThan(lastSeq);

    projector = startProjector();
    await waitFor(
      async () =>
        (await watcher.history.position()) >= lastSeq && (await watcher.counters.position()) >= lastSeq,
      { timeoutMs: 90_000, intervalMs: 100, message: 'the restarted projector to catch up' },
    );
    projector.kill('SIGTERM');
    await new Promise((r) => projector.once('exit', r));

    await rebuildProjection(nc, reference.history, { durable: 'ref-history' });
    await rebuildProjection(nc, reference.counters, { durable: 'ref-counters' });
    expect(await dumpMysql(watcher.db)).toEqual(await dumpMysql(reference.db));
    expect(await dumpRedis(watcher.redis)).toEqual(await dumpRedis(reference.redis));
    expect((await checkProjections(nc, { db: watcher.db, redis: watcher.redis })).differences).toEqual([]);
  });
});
