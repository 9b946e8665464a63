import { Logger } from '@nestjs/common';
import { waitForPosition } from '@parley/read-model';
import { ConsumerLoop, EVENTS_STREAM, JetStreamEventLog, type SnapshotStore } from '@parley/event-log';
import { type NatsConnection } from 'nats';
import { durableName, type Projection } from './projection';
import { ProjectionRunner, type ProjectionRunnerOptions } from './projection-runner';
import { loadSeed } from './seed';

/** Options of {@link rebuildProjection}. */
export interface RebuildOptions extends ProjectionRunnerOptions {
  /** Give up when the position did not move for this long, in ms (default 60 s). */
  stallTimeoutMs?: number;
  /** Actor snapshots: the seed of subjects whose early events expired (needed once anything expired). */
  snapshots?: SnapshotStore;
}

/** What a rebuild did. */
export interface RebuildResult {
  /** Projection. */
  name: string;
  /** Events replayed (the stream's last seq when the rebuild started). */
  events: number;
  /** Wall time in ms. */
  ms: number;
}

/**
 * Rebuild: deletes the projection's durable consumer and its state, then replays IM_EVENTS from the
 * start through the same code path as the live projection, until it passed the stream's last seq at
 * the start. Once log retention expired the stream's first events, the state starts from the actor
 * snapshots (each subject's state at its snapshot) and history keeps messages of expired events. The durable consumer is left in place, so a projector started afterwards goes on from
 * there. The stream itself is never touched. Stop the projection's live instances first: they would
 * share the new consumer (harmless, every write is idempotent) but report a stale position meanwhile.
 */
export async function rebuildProjection(
  nc: NatsConnection,
  projection: Projection,
  opts: RebuildOptions = {},
): Promise<RebuildResult> {
  const log = new Logger(`rebuild:${projection.name}`);
  const stream = opts.stream ?? EVENTS_STREAM;
  const durable = opts.durable ?? durableName(projection.name);
  await ConsumerLoop.deleteDurable(nc, stream, durable);
  const { first, last: target } = await (await JetStreamEventLog.create(nc, { stream })).bounds();
  await projection.reset(first);
  if (first > 1) {
    // Log retention expired the stream's first events: start from what the actor snapshots say.
    if (!opts.snapshots) throw new Error(`${stream} starts at ${first}: a rebuild needs the actor snapshots`);
    const seed = await loadSeed(opts.snapshots);
    await projection.seed(seed);
    log.log(`seeded ${seed.conversations.size} conversations and ${seed.users.size} users from snapshots`);
  }
  log.log(`replaying events ${first}..${target} of ${stream}`);
  const t0 = Date.now();
  const runner = new ProjectionRunner(nc, projection, { batchSize: 1_000, ...opts, stream, durable });
  await runner.start();
  try {
    const stallMs = opts.stallTimeoutMs ?? 60_000;
    const at = await waitForPosition(() => runner.position, target, {
      timeoutMs: stallMs,
      untilStalled: true,
    });
    if (at < target) {
      throw new Error(`rebuild of ${projection.name} stalled at ${at} of ${target} for ${stallMs} ms`);
    }
  } finally {
    await runner.stop();
  }
  const ms = Date.now() - t0;
  log.log(`rebuilt ${projection.name}: ${target} events in ${ms} ms`);
  return { name: projection.name, events: target, ms };
}
