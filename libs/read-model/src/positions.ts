import { setTimeout as sleep } from 'node:timers/promises';
import { type ParleyDatabase } from './mysql/database';
import { type ParleyRedis } from './redis/parley-redis';
import { type ProjectionName } from './redis/redis-keys';

/** The history projection's checkpoint (MySQL `projection_checkpoints`), 0 before its first batch. */
export async function historyPosition(db: ParleyDatabase): Promise<number> {
  const rows = (await db.dataSource.query('SELECT stream_seq FROM projection_checkpoints WHERE name = ?', [
    'history',
  ])) as Array<{ stream_seq: number }>;
  return rows.length > 0 ? Number(rows[0].stream_seq) : 0;
}

/** The counters projection's resume position (Redis), 0 before its first batch. */
export async function countersPosition(redis: ParleyRedis): Promise<number> {
  return Number((await redis.client.get(redis.keys.position('counters'))) ?? 0);
}

/**
 * The stream seq up to which a projection applied every event, read from the store it writes (the one
 * place that knows where each projection keeps its position).
 */
export function projectionPosition(
  name: ProjectionName,
  stores: { db?: ParleyDatabase; redis?: ParleyRedis },
): Promise<number> {
  if (name === 'history') {
    if (!stores.db) throw new Error('the history position needs the database');
    return historyPosition(stores.db);
  }
  if (!stores.redis) throw new Error('the counters position needs Redis');
  return countersPosition(stores.redis);
}

/** Options of {@link waitForPosition}. */
export interface WaitForPositionOptions {
  /** Give up after this long, in ms; with `untilStalled`, after this long without progress. */
  timeoutMs: number;
  /** The timeout counts from the last time the position moved (a long replay that keeps going). */
  untilStalled?: boolean;
  /** Longest pause between two reads, in ms (default 50; the first pause is 5 ms, doubling). */
  maxIntervalMs?: number;
  /** The clock (default Date.now). */
  now?: () => number;
}

/**
 * Polls a position until it reaches `target` or the wait times out, and resolves with the last
 * position read (below `target` on timeout): the one wait-for-position poll of read-your-writes,
 * rebuilds, checks and tests.
 */
export async function waitForPosition(
  read: () => number | Promise<number>,
  target: number,
  opts: WaitForPositionOptions,
): Promise<number> {
  const now = opts.now ?? Date.now;
  let deadline = now() + opts.timeoutMs;
  let at = await read();
  for (let delay = 5; at < target; delay = Math.min(delay * 2, opts.maxIntervalMs ?? 50)) {
    if (now() >= deadline) return at;
    await sleep(delay);
    const next = await read();
    if (opts.untilStalled && next !== at) deadline = now() + opts.timeoutMs;
    at = next;
  }
  return at;
}
