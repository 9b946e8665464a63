import { randomBytes } from 'node:crypto';
import { createConnection } from 'mysql2/promise';

/** URLs of the servers the jest global setup starts once per run. */
export interface SharedInfra {
  /** nats-server with JetStream: `nats://127.0.0.1:<port>`. */
  natsUrl: string;
  /** redis-server: `redis://127.0.0.1:<port>`. */
  redisUrl: string;
  /** mariadbd: `mysql://root@127.0.0.1:<port>/` (no database: see {@link createTestDatabase}). */
  mysqlUrl: string;
}

/** The environment variables the global setup fills (jest workers inherit them). */
export const SHARED_INFRA_ENV = {
  natsUrl: 'PARLEY_TEST_NATS_URL',
  redisUrl: 'PARLEY_TEST_REDIS_URL',
  mysqlUrl: 'PARLEY_TEST_MYSQL_URL',
} as const;

/**
 * The per-run servers, shared by every test file: isolate with {@link uniqueName}. Tests that kill or
 * restart a server start a private one (`NatsServer.start()` …) instead.
 */
export function sharedInfra(): SharedInfra {
  const get = (name: string): string => {
    const value = process.env[name];
    if (!value) {
      throw new Error(
        `${name} is not set: shared test servers exist only in jest's integration project ` +
          '(its globalSetup libs/testing/src/jest-global-setup.ts starts them), e.g. ' +
          '`npx jest --selectProjects integration <path>`',
      );
    }
    return value;
  };
  return {
    natsUrl: get(SHARED_INFRA_ENV.natsUrl),
    redisUrl: get(SHARED_INFRA_ENV.redisUrl),
    mysqlUrl: get(SHARED_INFRA_ENV.mysqlUrl),
  };
}

let counter = 0;

/**
 * A name no other test uses, valid as a stream, consumer, database or key prefix:
 * `<prefix>_<pid>_<counter>_<random>` with the prefix reduced to letters, digits, `_` and `-`.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix.replace(/[^A-Za-z0-9_-]/g, '_');
  counter += 1;
  return `${clean}_${process.pid.toString(36)}_${counter.toString(36)}_${randomBytes(3).toString('hex')}`;
}

/** Creates a new database (utf8mb4) on the server at `mysqlUrl` and returns the URL that selects it. */
export async function createTestDatabase(mysqlUrl: string, name: string): Promise<string> {
  if (!/^[A-Za-z0-9_$-]{1,64}$/.test(name)) throw new Error(`not a safe database name: ${name}`);
  const u = new URL(mysqlUrl);
  const c = await createConnection({
    host: u.hostname,
    port: Number(u.port || 3306),
    user: decodeURIComponent(u.username) || 'root',
    password: decodeURIComponent(u.password),
  });
  try {
    await c.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
  } finally {
    await c.end();
  }
  u.pathname = `/${name}`;
  return u.toString();
}

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long (ms, default 10 000). */
  timeoutMs?: number;
  /** Poll interval (ms, default 50). */
  intervalMs?: number;
  /** What is awaited, for the timeout error. */
  message?: string;
}

/** Polls `predicate` until it returns true (a throw counts as false); throws after the timeout. */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  opts: WaitForOptions = {},
): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await predicate()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.message ?? 'a condition'}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, opts.intervalMs ?? 50));
  }
}
