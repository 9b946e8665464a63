import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import Redis, { type Result } from 'ioredis';
import { HEAD, HMAX, HVERSIONED, READ_STATE, SETMAX } from './scripts';
import { RedisKeys } from './redis-keys';

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** See {@link HMAX}. */
    parleyHmax(key: string, ...fieldValues: Array<string | number>): Result<number, Context>;
    /** See {@link HVERSIONED}. */
    parleyHversioned(key: string, ...fieldValues: string[]): Result<number, Context>;
    /** See {@link SETMAX}. */
    parleySetmax(key: string, value: number): Result<number, Context>;
    /** See {@link HEAD}. */
    parleyHead(key: string, ...args: Array<string | number>): Result<number, Context>;
    /** See {@link READ_STATE}. */
    parleyReadState(
      convs: string,
      reads: string,
      own: string,
      prefix: string,
      mode: 'unread' | 'sessions',
    ): Result<string[][], Context>;
  }
}

/** Options of {@link ParleyRedis.open}. */
export interface ParleyRedisOptions {
  /** Key prefix (`IM_REDIS_PREFIX`). */
  prefix: string;
  /** How long to wait for the first connection, in ms (default 30 s). */
  connectTimeoutMs?: number;
  /** Per-command timeout in ms (default 5 s): a hung server becomes a retried, transient failure. */
  commandTimeoutMs?: number;
}

/**
 * The Redis connection of the counters projection and the read model, with the Lua merges defined.
 * Commands fail fast while disconnected (no offline queue), so a Redis outage surfaces as a transient
 * error the consumer retries with backoff instead of a batch that hangs.
 */
export class ParleyRedis {
  private constructor(
    /** The ioredis client. */
    readonly client: Redis,
    /** Key builders for the configured prefix. */
    readonly keys: RedisKeys,
  ) {}

  /** Connects (waiting while the server is not up yet) and registers the scripts. */
  static async open(url: string, opts: ParleyRedisOptions): Promise<ParleyRedis> {
    const log = new Logger('redis');
    let lastError = '';
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: opts.commandTimeoutMs ?? 5_000,
      retryStrategy: (times) => Math.min(100 * times, 2_000),
    });
    client.on('error', (err: Error) => {
      // ioredis emits one error per reconnect attempt; the consumer's throttled log reports outages.
      if (err.message !== lastError) log.warn(`redis: ${err.message}`);
      lastError = err.message;
    });
    client.on('ready', () => (lastError = ''));
    client.defineCommand('parleyHmax', { numberOfKeys: 1, lua: HMAX });
    client.defineCommand('parleyHversioned', { numberOfKeys: 1, lua: HVERSIONED });
    client.defineCommand('parleySetmax', { numberOfKeys: 1, lua: SETMAX });
    client.defineCommand('parleyHead', { numberOfKeys: 1, lua: HEAD });
    client.defineCommand('parleyReadState', { numberOfKeys: 3, lua: READ_STATE });
    // ioredis reconnects on its own (retryStrategy); wait, bounded, until it is ready.
    const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
    while (client.status !== 'ready') {
      if (Date.now() > deadline) {
        client.disconnect();
        throw new Error(
          `redis at ${url} not ready after ${opts.connectTimeoutMs ?? 30_000} ms: ${lastError}`,
        );
      }
      await sleep(50);
    }
    return new ParleyRedis(client, new RedisKeys(opts.prefix));
  }

  /** Deletes every key of the prefix (SCAN + UNLINK, in pages): a rebuild starts from nothing. */
  async deleteAll(): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', this.keys.pattern(), 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) deleted += await this.client.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  /** Closes the connection, waiting for replies in flight. */
  async close(): Promise<void> {
    if (this.client.status === 'end') return;
    await this.client.quit().catch(() => this.client.disconnect());
  }
}
