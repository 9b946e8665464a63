/**
 * Operations on the projections, from the repository root:
 *   npm run projection -- rebuild history|counters   drop the projection's state and replay the log
 *   npm run projection -- check                       compare MySQL and Redis with the log (exit 1 on any difference;
 *                                                     messages past IM_HISTORY_RETENTION_MS may be missing)
 *   npm run projection -- status                      position and lag of each projection
 * Settings come from the same environment variables as the apps (NATS_URL, MYSQL_URL, REDIS_URL…).
 */
import 'reflect-metadata';
import { conversationRulesOf, validateEnv } from '@parley/config';
import { connectToNats, JetStreamEventLog, JetStreamSnapshotStore } from '@parley/event-log';
import { ParleyDatabase, ParleyRedis, type ProjectionName, PROJECTION_NAMES } from '@parley/read-model';
import { checkProjections } from './check';
import { CountersProjection } from './counters/counters.projection';
import { HistoryProjection } from './history/history.projection';
import { rebuildProjection } from './rebuild';

const USAGE = 'usage: npm run projection -- rebuild history|counters | check | status';

async function main(argv: string[]): Promise<number> {
  const [command, target] = argv;
  const env = validateEnv(process.env);
  if (command === 'rebuild' && !(PROJECTION_NAMES as readonly string[]).includes(target ?? '')) {
    console.error(USAGE);
    return 2;
  }
  if (!['rebuild', 'check', 'status'].includes(command ?? '')) {
    console.error(USAGE);
    return 2;
  }
  const nc = await connectToNats({ servers: env.NATS_URL, name: 'parley-projection-cli' });
  const db = await ParleyDatabase.open(env.MYSQL_URL, { migrate: true, multipleStatements: true });
  const redis = await ParleyRedis.open(env.REDIS_URL, { prefix: env.IM_REDIS_PREFIX });
  const snapshots = new JetStreamSnapshotStore(nc, { create: false });
  try {
    if (command === 'rebuild') {
      const name = target as ProjectionName;
      const projection =
        name === 'history'
          ? new HistoryProjection(db)
          : new CountersProjection(redis, env.IM_PREVIEW_MAX_CHARS);
      const r = await rebuildProjection(nc, projection, {
        ackWaitMs: env.IM_PROJECTION_ACK_WAIT_MS,
        snapshots,
      });
      const rate = r.ms > 0 ? Math.round((r.events / r.ms) * 1000) : r.events;
      console.log(`rebuilt ${r.name}: ${r.events} events in ${r.ms} ms (${rate} events/s)`);
      return 0;
    }
    if (command === 'status') {
      const { last } = await (await JetStreamEventLog.create(nc)).bounds();
      const history = new HistoryProjection(db);
      const counters = new CountersProjection(redis);
      for (const p of [history, counters]) {
        const position = await p.position();
        console.log(`${p.name}: position ${position}, stream ${last}, lag ${Math.max(0, last - position)}`);
      }
      return 0;
    }
    const result = await checkProjections(nc, {
      db,
      redis,
      previewMaxChars: env.IM_PREVIEW_MAX_CHARS,
      retention: { historyRetentionMs: env.IM_HISTORY_RETENTION_MS },
      snapshots,
      rules: conversationRulesOf(env),
    });
    for (const d of result.differences) {
      console.log(`${d.where}: expected ${JSON.stringify(d.expected)}, found ${JSON.stringify(d.actual)}`);
    }
    const { verified, seeded } = result.snapshots;
    console.log(
      `checked ${result.upTo} events and ${verified} snapshots (${seeded} seeded the fold): ` +
        `${result.differences.length} difference(s)`,
    );
    return result.differences.length === 0 ? 0 : 1;
  } finally {
    await Promise.allSettled([db.close(), redis.close(), nc.close()]);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.stack ?? String(err));
    process.exit(1);
  },
);
