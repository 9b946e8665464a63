import { ParleyDatabase, ParleyRedis, ReadModel } from '@parley/read-model';
import { type NatsConnection } from 'nats';
import { CountersProjection } from '../counters/counters.projection';
import { HistoryProjection } from '../history/history.projection';
import { ProjectionRunner, type ProjectionRunnerOptions } from '../projection-runner';

/** Both projections wired by hand against given servers, for tests and benchmarks. */
export interface ProjectionHarness {
  db: ParleyDatabase;
  redis: ParleyRedis;
  history: HistoryProjection;
  counters: CountersProjection;
  readModel: ReadModel;
  runners: ProjectionRunner[];
  /** Starts both runners (durables suffixed with `suffix`). */
  start(opts?: ProjectionRunnerOptions & { suffix?: string }): Promise<void>;
  /** Waits until both runners passed `streamSeq`. */
  waitFor(streamSeq: number, timeoutMs?: number): Promise<void>;
  /** Stops the runners. */
  stop(): Promise<void>;
  /** Stops the runners and closes MySQL and Redis. */
  close(): Promise<void>;
}

/** Opens MySQL (migrated) and Redis with a prefix; the runners start with {@link ProjectionHarness.start}. */
export async function openHarness(
  nc: NatsConnection,
  mysqlUrl: string,
  redisUrl: string,
  prefix: string,
): Promise<ProjectionHarness> {
  const db = await ParleyDatabase.open(mysqlUrl, { migrate: true, multipleStatements: true });
  const redis = await ParleyRedis.open(redisUrl, { prefix });
  const history = new HistoryProjection(db);
  const counters = new CountersProjection(redis, 200);
  const h: ProjectionHarness = {
    db,
    redis,
    history,
    counters,
    readModel: new ReadModel(db, redis, { hotGroupsCacheMs: 0 }),
    runners: [],
    async start(opts = {}) {
      const { suffix = '', ...rest } = opts;
      h.runners = [history, counters].map(
        (p) => new ProjectionRunner(nc, p, { durable: `projector-${p.name}${suffix}`, ...rest }),
      );
      for (const r of h.runners) await r.start();
    },
    async waitFor(streamSeq, timeoutMs = 60_000) {
      await Promise.all(h.runners.map((r) => r.waitForPosition(streamSeq, timeoutMs)));
    },
    async stop() {
      await Promise.all(h.runners.map((r) => r.stop()));
      h.runners = [];
    },
    async close() {
      await h.stop();
      await Promise.allSettled([db.close(), redis.close()]);
    },
  };
  return h;
}

/** Every row of the history tables, in key order, with dates as epoch ms (checkpoint included). */
export async function dumpMysql(db: ParleyDatabase): Promise<Record<string, unknown[]>> {
  const q = (sql: string) => db.dataSource.query(sql) as Promise<Array<Record<string, unknown>>>;
  const norm = (rows: Array<Record<string, unknown>>) =>
    rows.map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v instanceof Date ? v.getTime() : v])),
    );
  return {
    conversations: norm(await q('SELECT * FROM conversations ORDER BY id')),
    conversation_members: norm(
      await q('SELECT * FROM conversation_members ORDER BY conversation_id, user_id'),
    ),
    messages: norm(await q('SELECT * FROM messages ORDER BY conversation_id, seq')),
    projection_checkpoints: norm(await q('SELECT * FROM projection_checkpoints ORDER BY name')),
  };
}

/** Every key of the prefix with its full value, the prefix stripped, sorted. */
export async function dumpRedis(redis: ParleyRedis): Promise<Record<string, unknown>> {
  const c = redis.client;
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await c.scan(cursor, 'MATCH', redis.keys.pattern(), 'COUNT', 1_000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  keys.sort();
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const type = await c.type(key);
    const name = key.slice(redis.keys.prefix.length);
    if (type === 'hash') {
      const h = await c.hgetall(key);
      out[name] = Object.fromEntries(Object.entries(h).sort(([a], [b]) => (a < b ? -1 : 1)));
    } else if (type === 'zset') out[name] = await c.zrange(key, 0, -1, 'WITHSCORES');
    else out[name] = await c.get(key);
  }
  return out;
}
