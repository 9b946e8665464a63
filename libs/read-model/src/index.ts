/** The read model: MySQL history schema, Redis key layout and merges, and the queries the gateway serves. */
export * from './message';
export * from './mysql/database';
export * from './mysql/entities';
export * from './positions';
export * from './read-model';
export * from './read-model.module';
export * from './redis/parley-redis';
export * from './redis/redis-keys';
export * from './redis/scripts';
export * from './retention';
export * from './store-errors';
