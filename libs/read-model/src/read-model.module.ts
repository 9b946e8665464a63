import { type DynamicModule, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import { ParleyConfig } from '@parley/config';
import { ParleyDatabase } from './mysql/database';
import { ReadModel } from './read-model';
import { ParleyRedis } from './redis/parley-redis';

/** Options of {@link ReadModelModule.forRoot}. */
export interface ReadModelModuleOptions {
  /** Run the history migrations at start (the projector does; default false). */
  migrate?: boolean;
  /** Several statements per MySQL query (the projector's writer; default false). */
  multipleStatements?: boolean;
}

/** Closes the MySQL pool and the Redis connection after every consumer stopped (shutdown hooks run last). */
@Injectable()
class StoreCloser implements OnApplicationShutdown {
  constructor(
    private readonly db: ParleyDatabase,
    private readonly redis: ParleyRedis,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.allSettled([this.db.close(), this.redis.close()]);
  }
}

/**
 * The read model as Nest providers: {@link ParleyDatabase} (MySQL, TypeORM), {@link ParleyRedis}
 * and the {@link ReadModel} queries, configured from {@link ParleyConfig}. Global, so the gateway and
 * the projector import it once.
 */
@Module({})
export class ReadModelModule {
  /** The module; `migrate` runs the history migrations at start. */
  static forRoot(opts: ReadModelModuleOptions = {}): DynamicModule {
    return {
      module: ReadModelModule,
      global: true,
      providers: [
        {
          provide: ParleyDatabase,
          inject: [ParleyConfig],
          useFactory: (config: ParleyConfig) =>
            ParleyDatabase.open(config.get('MYSQL_URL'), {
              migrate: opts.migrate ?? false,
              multipleStatements: opts.multipleStatements ?? false,
            }),
        },
        {
          provide: ParleyRedis,
          inject: [ParleyConfig],
          useFactory: (config: ParleyConfig) =>
            ParleyRedis.open(config.get('REDIS_URL'), { prefix: config.get('IM_REDIS_PREFIX') }),
        },
        {
          provide: ReadModel,
          inject: [ParleyDatabase, ParleyRedis, ParleyConfig],
          useFactory: (db: ParleyDatabase, redis: ParleyRedis, config: ParleyConfig) =>
            new ReadModel(db, redis, {
              hotGroupsWindowMs: config.get('IM_HOT_GROUPS_WINDOW_MS'),
              hotGroupsCacheMs: config.get('IM_HOT_GROUPS_CACHE_MS'),
              readYourWritesTimeoutMs: config.get('IM_READ_YOUR_WRITES_TIMEOUT_MS'),
              historyRetentionMs: config.get('IM_HISTORY_RETENTION_MS'),
            }),
        },
        StoreCloser,
      ],
      exports: [ParleyDatabase, ParleyRedis, ReadModel],
    };
  }
}
