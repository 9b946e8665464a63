import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { createConnection } from 'mysql2/promise';
import { DataSource } from 'typeorm';
import { HISTORY_ENTITIES } from './entities';
import { HistorySchema1763900000000 } from './migrations/1763900000000-history-schema';
import { RecallPosition1764000000000 } from './migrations/1764000000000-recall-position';
import { HistoryRetention1764100000000 } from './migrations/1764100000000-history-retention';

/** Every migration, oldest first. */
export const HISTORY_MIGRATIONS = [
  HistorySchema1763900000000,
  RecallPosition1764000000000,
  HistoryRetention1764100000000,
];

/** Options of {@link ParleyDatabase.open}. */
export interface ParleyDatabaseOptions {
  /** Run pending migrations (under a named lock, so several projectors can start at once). */
  migrate?: boolean;
  /** Create the database when it does not exist (default true). */
  createDatabase?: boolean;
  /** Pool size (default 10). */
  poolSize?: number;
  /** How long to keep trying the first connect, in ms (default 30 s). */
  connectTimeoutMs?: number;
  /**
   * Allow several statements per query (default false): the projector's history writer then sends a
   * batch's transaction in one round trip. Left off where nothing needs it (the gateway's reads).
   */
  multipleStatements?: boolean;
}

const MIGRATION_LOCK = 'parley_history_migrations';

/** The database name in a `mysql://` URL (default `parley`). */
export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || 'parley';
}

/**
 * The history database: a TypeORM DataSource over mysql2 (UTC, numbers for BIGINT), schema managed
 * by migrations only (`synchronize` is never used).
 */
export class ParleyDatabase {
  private readonly log = new Logger('mysql');

  private constructor(
    /** The TypeORM data source. */
    readonly dataSource: DataSource,
  ) {}

  /** Connects (retrying while the server is not up yet), creates the database and migrates when asked. */
  static async open(url: string, opts: ParleyDatabaseOptions = {}): Promise<ParleyDatabase> {
    const log = new Logger('mysql');
    const deadline = Date.now() + (opts.connectTimeoutMs ?? 30_000);
    for (;;) {
      try {
        if (opts.createDatabase ?? true) await createDatabaseIfMissing(url);
        const ds = new DataSource({
          type: 'mysql',
          ...connectionOptions(url),
          entities: HISTORY_ENTITIES,
          migrations: HISTORY_MIGRATIONS,
          migrationsTableName: 'typeorm_migrations',
          synchronize: false,
          timezone: 'Z',
          charset: 'utf8mb4_unicode_ci',
          supportBigNumbers: true,
          bigNumberStrings: false,
          poolSize: opts.poolSize ?? 10,
          connectTimeout: 5_000,
          multipleStatements: opts.multipleStatements ?? false,
        });
        await ds.initialize();
        const db = new ParleyDatabase(ds);
        if (opts.migrate) await db.migrate();
        return db;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        log.warn(`cannot open ${redact(url)} yet: ${(err as Error).message}; retrying`);
        await sleep(500);
      }
    }
  }

  /** Runs pending migrations while holding a named lock, so concurrent starts migrate once. */
  async migrate(): Promise<void> {
    const runner = this.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ got }] = (await runner.query('SELECT GET_LOCK(?, 60) AS got', [MIGRATION_LOCK])) as Array<{
        got: number | null;
      }>;
      if (got !== 1) throw new Error(`could not take the migration lock ${MIGRATION_LOCK}`);
      try {
        const done = await this.dataSource.runMigrations({ transaction: 'each' });
        for (const m of done) this.log.log(`migrated: ${m.name}`);
      } finally {
        await runner.query('SELECT RELEASE_LOCK(?)', [MIGRATION_LOCK]);
      }
    } finally {
      await runner.release();
    }
  }

  /** Closes the pool. */
  async close(): Promise<void> {
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

function connectionOptions(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 3306),
    username: decodeURIComponent(u.username) || 'root',
    password: decodeURIComponent(u.password),
    database: databaseName(url),
  };
}

async function createDatabaseIfMissing(url: string): Promise<void> {
  const { host, port, username, password } = connectionOptions(url);
  const c = await createConnection({ host, port, user: username, password, connectTimeout: 5_000 });
  try {
    const name = databaseName(url).replace(/`/g, '');
    await c.query(
      `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
    );
  } finally {
    await c.end();
  }
}

/** The URL without its password, for logs. */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(invalid url)';
  }
}
