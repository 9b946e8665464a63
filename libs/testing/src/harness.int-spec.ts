import { existsSync } from 'node:fs';
import Redis from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { connect, type NatsConnection, StringCodec } from 'nats';
import { freePort } from './free-port';
import { MariaDbServer } from './mariadb-server';
import { NatsCluster } from './nats-cluster';
import { NatsServer } from './nats-server';
import { RedisServer } from './redis-server';
import { createTestDatabase, sharedInfra, uniqueName } from './shared-infra';

const sc = StringCodec();

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function withNats<T>(servers: string, fn: (nc: NatsConnection) => Promise<T>): Promise<T> {
  const nc = await connect({ servers, reconnect: false, timeout: 2_000 });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

async function withRedis<T>(url: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  await r.connect();
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

async function query<T>(url: string, sql: string, values: unknown[] = []): Promise<T> {
  const c = await createConnection(url);
  try {
    const [rows] = await c.query(sql, values);
    return rows as T;
  } finally {
    await c.end();
  }
}

describe('testing harness', () => {
  it('freePort › concurrent calls never return the same port', async () => {
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    expect(new Set(ports).size).toBe(50);
  });

  it('sharedInfra › the per-run servers answer', async () => {
    const { natsUrl, redisUrl, mysqlUrl } = sharedInfra();
    expect([natsUrl, redisUrl, mysqlUrl].join(' ')).not.toMatch(/:(4222|6379|3306)\b/);
    const info = await withNats(natsUrl, async (nc) => (await nc.jetstreamManager()).getAccountInfo());
    expect(info.limits).toBeDefined();
    expect(await withRedis(redisUrl, (r) => r.ping())).toBe('PONG');
    const db = await createTestDatabase(mysqlUrl, uniqueName('harness'));
    expect(await query(db, 'SELECT DATABASE() AS db')).toEqual([{ db: new URL(db).pathname.slice(1) }]);
  });

  it('uniqueName › gives distinct names that are valid stream names', () => {
    const names = new Set(Array.from({ length: 100 }, () => uniqueName('a.b c')));
    expect(names.size).toBe(100);
    for (const n of names) expect(n).toMatch(/^a_b_c_[A-Za-z0-9_]+$/);
  });

  describe('NatsServer', () => {
    let server: NatsServer;
    beforeAll(async () => {
      server = await NatsServer.start();
    });
    afterAll(() => server?.dispose());

    it('keeps JetStream streams and messages across kill -9 and restart on the same port', async () => {
      const stream = uniqueName('HARNESS');
      await withNats(server.url, async (nc) => {
        await (await nc.jetstreamManager()).streams.add({ name: stream, subjects: [`${stream}.>`] });
        const ack = await nc.jetstream().publish(`${stream}.a`, sc.encode('hello'));
        expect(ack.seq).toBe(1);
      });
      const pid = server.pid!;
      await server.kill();
      expect(isAlive(pid)).toBe(false);
      await server.restart();
      expect(server.pid).not.toBe(pid);
      await withNats(server.url, async (nc) => {
        const jsm = await nc.jetstreamManager();
        expect((await jsm.streams.info(stream)).state.messages).toBe(1);
        expect(sc.decode((await jsm.streams.getMessage(stream, { seq: 1 })).data)).toBe('hello');
      });
    });

    it('dispose › stops the server and removes its folder', async () => {
      const other = await NatsServer.start();
      const pid = other.pid!;
      await other.dispose();
      expect(isAlive(pid)).toBe(false);
      expect(existsSync(other.dir)).toBe(false);
    });
  });

  describe('RedisServer', () => {
    let server: RedisServer;
    beforeAll(async () => {
      server = await RedisServer.start();
    });
    afterAll(() => server?.dispose());

    it('answers set/get, and again after stop and restart', async () => {
      await withRedis(server.url, async (r) => {
        await r.set('k', 'v');
        expect(await r.get('k')).toBe('v');
      });
      await server.stop();
      expect(server.running).toBe(false);
      await server.restart();
      await withRedis(server.url, async (r) => {
        await r.set('k2', 'v2');
        expect(await r.get('k2')).toBe('v2');
      });
    });
  });

  describe('MariaDbServer', () => {
    let server: MariaDbServer;
    beforeAll(async () => {
      server = await MariaDbServer.start();
    });
    afterAll(() => server?.dispose());

    it('keeps committed rows across kill -9 and restart', async () => {
      expect(await query(server.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
      const db = await createTestDatabase(server.url, uniqueName('harness'));
      await query(db, 'CREATE TABLE t (id INT PRIMARY KEY, body VARCHAR(100)) ENGINE=InnoDB');
      await query(db, 'INSERT INTO t VALUES (?, ?)', [1, 'héllo 👋']);
      await server.kill();
      await server.restart();
      expect(await query(db, 'SELECT id, body FROM t')).toEqual([{ id: 1, body: 'héllo 👋' }]);
    });
  });

  describe('NatsCluster', () => {
    let cluster: NatsCluster;
    beforeAll(async () => {
      cluster = await NatsCluster.start(3);
    });
    afterAll(() => cluster?.dispose());

    it('accepts a publish on a stream with 3 replicas', async () => {
      expect(cluster.urls.split(',')).toHaveLength(3);
      const stream = uniqueName('HARNESS_R3');
      await withNats(cluster.urls, async (nc) => {
        const jsm = await nc.jetstreamManager();
        const info = await jsm.streams.add({ name: stream, subjects: [`${stream}.>`], num_replicas: 3 });
        expect(info.config.num_replicas).toBe(3);
        const ack = await nc.jetstream().publish(`${stream}.a`, sc.encode('hello'));
        expect(ack.seq).toBe(1);
        expect((await jsm.streams.info(stream)).cluster?.replicas).toHaveLength(2);
      });
    });
  });
});
