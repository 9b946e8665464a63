import { z } from 'zod';

const bool = z
  .enum(['0', '1', 'true', 'false'])
  .default('0')
  .transform((v) => v === '1' || v === 'true');
const int = (min: number, def: number) => z.coerce.number().int().min(min).default(def);

/**
 * Every setting Parley reads, with defaults that work on a developer machine (DESIGN §8).
 * Config comes only from environment variables, validated once at boot.
 */
export const envSchema = z.object({
  NATS_URL: z.string().min(1).default('nats://127.0.0.1:4222'),
  MYSQL_URL: z.string().url().default('mysql://root@127.0.0.1:3306/parley'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  PORT: int(0, 3000),
  IM_JWT_SECRET: z.string().min(16).default('parley-dev-secret-change-me'),
  IM_DEV_AUTH: bool,
  IM_STREAM_REPLICAS: int(1, 1).refine((n) => n === 1 || n === 3 || n === 5, 'must be 1, 3 or 5'),
  IM_EVENTS_MAX_AGE_MS: int(0, 0),
  IM_MAX_BODY_BYTES: int(1, 16 * 1024),
  IM_REDIS_PREFIX: z.string().default('im:'),
  IM_ACTORS_MAX_LIVE: int(1, 10_000),
  IM_ACTORS_IDLE_MS: int(1_000, 10 * 60 * 1000),
  IM_ACTORS_MAX_CONCURRENT: int(1, 256),
  /** Approximate memory for live actors' state, in MiB (0 = no limit beyond IM_ACTORS_MAX_LIVE). */
  IM_ACTORS_MAX_MEMORY_MB: int(0, 1_024),
  IM_ACTORS_MAX_PENDING: int(1, 20_000),
  IM_DEDUP_WINDOW_MS: int(0, 24 * 3600 * 1000),
  IM_DEDUP_MAX_ENTRIES: int(1, 100_000),
  IM_RECALL_WINDOW_MS: int(0, 24 * 3600 * 1000),
  IM_RECALL_MAX_ENTRIES: int(1, 100_000),
  /** An actor saves a snapshot after this many events since its last one (0 = never, also not on passivation). */
  IM_SNAPSHOT_EVERY: int(0, 1_000),
  /** With IM_EVENTS_MAX_AGE_MS > 0: how often the retention sweeper runs (0 = a tenth of the max age, 1 s to 1 h). */
  IM_SNAPSHOT_SWEEP_MS: int(0, 0),
  IM_APPEND_MAX_ATTEMPTS: int(1, 25),
  IM_PROJECTIONS: z
    .string()
    .default('history,counters')
    .transform((v) => [
      ...new Set(
        v
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p.length > 0),
      ),
    ])
    .pipe(z.array(z.enum(['history', 'counters'])).min(1, 'name at least one of history,counters')),
  IM_PROJECTION_BATCH_SIZE: int(1, 500),
  IM_PROJECTION_ACK_WAIT_MS: int(1_000, 10_000),
  IM_PREVIEW_MAX_CHARS: int(0, 200),
  /** History retention (DESIGN §15): messages older than this leave history and sync, 0 = keep forever. */
  IM_HISTORY_RETENTION_MS: int(0, 0),
  /** How often the projector deletes messages past retention from MySQL. */
  IM_HISTORY_RETENTION_EVERY_MS: int(1_000, 60_000),
  /** Rows per DELETE of the retention job (each statement holds its row locks only that long). */
  IM_HISTORY_RETENTION_BATCH: z.coerce.number().int().min(1).max(100_000).default(1_000),
  IM_HOT_GROUPS_WINDOW_MS: int(1_000, 5 * 60 * 1000),
  IM_HOT_GROUPS_CACHE_MS: int(0, 3_000),
  IM_READ_YOUR_WRITES_TIMEOUT_MS: int(0, 2_000),
  IM_HTTP_MAX_BODY_BYTES: int(1_024, 256 * 1024),
  IM_COMMAND_TIMEOUT_MS: int(100, 5_000),
  IM_PAGE_SIZE_MAX: int(1, 200),
  IM_RATE_LIMIT_PER_SEC: int(1, 50),
  IM_RATE_LIMIT_BURST: int(1, 100),
  IM_DEV_TOKEN_TTL_S: int(60, 24 * 3600),
  IM_WS_MAX_BUFFERED_BYTES: int(1_024, 1024 * 1024),
  IM_WS_HEARTBEAT_MS: int(100, 25_000),
  IM_WS_REFRESH_MS: int(100, 15_000),
  IM_SIGNAL_MAX_BYTES: int(1, 1_024),
  IM_PARTITIONING: z.enum(['on', 'off']).default('on'),
  IM_PARTITIONS: int(1, 32),
  IM_LEASE_TTL_MS: int(1_000, 10_000),
  IM_HOST_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{0,64}$/, 'letters, digits, _ and - only')
    .default(''),
  IM_ROUTE_TIMEOUT_MS: int(100, 4_000),
  /** Apps without an HTTP port touch this file every 5 s while NATS answers (container healthchecks). */
  IM_HEALTH_FILE: z.string().default(''),
  LOG_LEVEL: z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log'),
});

/** The validated configuration. */
export type ParleyEnv = z.infer<typeof envSchema>;

/**
 * Validates `process.env` (or another record) and returns typed settings; a missing or wrong
 * setting stops the app with one message naming every offending variable.
 */
export function validateEnv(raw: Record<string, unknown>): ParleyEnv {
  const parsed = envSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

/** The conversation rules of DESIGN §3–§4 as configured (the actor hosts decide by them, check folds by them). */
export function conversationRulesOf(
  env: Pick<
    ParleyEnv,
    | 'IM_MAX_BODY_BYTES'
    | 'IM_DEDUP_WINDOW_MS'
    | 'IM_DEDUP_MAX_ENTRIES'
    | 'IM_RECALL_WINDOW_MS'
    | 'IM_RECALL_MAX_ENTRIES'
  >,
) {
  return {
    maxBodyBytes: env.IM_MAX_BODY_BYTES,
    dedupWindowMs: env.IM_DEDUP_WINDOW_MS,
    maxDedupEntries: env.IM_DEDUP_MAX_ENTRIES,
    recallWindowMs: env.IM_RECALL_WINDOW_MS,
    maxRecallEntries: env.IM_RECALL_MAX_ENTRIES,
  };
}
