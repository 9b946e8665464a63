import { decodeEvent, type ParleyEvent, parseEventSubject } from '@parley/contracts';
import {
  type ConversationRules,
  restoreConversation,
  restoreUser,
  snapshotConversation,
  snapshotUser,
} from '@parley/domain';
import { EVENTS_STREAM, type EventLog, JetStreamEventLog, type SnapshotStore } from '@parley/event-log';
import {
  type ParleyDatabase,
  type ParleyRedis,
  type ProjectionName,
  projectionPosition,
  waitForPosition,
} from '@parley/read-model';
import { type NatsConnection } from 'nats';
import { checkCounters } from './check/counters-check';
import { type Difference, differ } from './check/difference';
import { foldExpected } from './check/expected';
import { type CheckRetention, checkHistory } from './check/history-check';
import { emptySeed, loadSeed } from './seed';

export { type Difference } from './check/difference';
export { type ExpectedState, type FoldOptions, foldExpected } from './check/expected';
export { type CheckRetention } from './check/history-check';

/** Result of {@link checkProjections}. */
export interface CheckResult {
  /** Events compared (stream seqs 1..upTo). */
  upTo: number;
  /** Every difference found (empty when the projections equal the log). */
  differences: Difference[];
  /** Actor snapshots compared with the fold of the log at their position, and snapshots used as the seed. */
  snapshots: { verified: number; seeded: number };
}

/** Options of {@link checkProjections}. */
export interface CheckOptions {
  /** The history database (omit to skip the history projection). */
  db?: ParleyDatabase;
  /** The counters Redis (omit to skip the counters projection). */
  redis?: ParleyRedis;
  /** Preview length the counters projection was run with (default 200). */
  previewMaxChars?: number;
  /** Stream (default IM_EVENTS). */
  stream?: string;
  /** How long to wait for the projections to reach the stream's end, in ms (default 30 s). */
  waitMs?: number;
  /** History retention the projector runs with: messages past it may be missing from MySQL. */
  retention?: CheckRetention;
  /**
   * Actor snapshots: each is compared with the fold of the log up to its position; once log retention
   * expired the stream's first events they are the seed of the expected state instead.
   */
  snapshots?: SnapshotStore;
  /** The conversation rules the actor hosts run with (default: the defaults). */
  rules?: ConversationRules;
}

/** Reads every event of the log up to `upTo` (undecodable ones, the poison, are skipped like the projections do). */
export async function readStream(
  log: EventLog,
  upTo: number,
): Promise<Array<{ event: ParleyEvent; streamSeq: number }>> {
  const out: Array<{ event: ParleyEvent; streamSeq: number }> = [];
  for await (const m of log.replay(1, upTo)) {
    try {
      out.push({ event: decodeEvent(m.data), streamSeq: m.streamSeq });
    } catch {
      // poison: the projections skip it too
    }
  }
  return out;
}

/**
 * The consistency check: folds the log with the domain's evolve functions, waits (bounded) until the
 * projections reached the stream's end, and compares every MySQL row and Redis key with the fold.
 * Run it on a quiet system: events appended meanwhile show up as differences.
 */
export async function checkProjections(nc: NatsConnection, opts: CheckOptions): Promise<CheckResult> {
  const stream = opts.stream ?? EVENTS_STREAM;
  const log = await JetStreamEventLog.create(nc, { stream });
  const { first: logStart, last: upTo } = await log.bounds();
  const differences: Difference[] = [];
  const diff = differ(differences);
  // With the whole log at hand every snapshot is checked against it; once its start expired, the
  // snapshots are where the subjects start (DESIGN §15).
  const seed = opts.snapshots && logStart > 1 ? await loadSeed(opts.snapshots) : emptySeed();
  const stored =
    opts.snapshots && logStart <= 1 ? await readSnapshots(opts.snapshots) : new Map<string, StoredState>();
  const expected = foldExpected(await readStream(log, upTo), {
    seed,
    rules: opts.rules,
    captureAt: new Map([...stored].map(([subject, snap]) => [subject, snap.position])),
  });
  for (const [subject, snap] of stored) {
    diff(
      `snapshot ${subject} at ${snap.position}`,
      expected.captured.get(subject) ?? 'no event there',
      snap.json,
    );
  }
  const names: ProjectionName[] = [
    ...(opts.db ? ['history' as const] : []),
    ...(opts.redis ? ['counters' as const] : []),
  ];
  const deadline = Date.now() + (opts.waitMs ?? 30_000);
  for (const name of names) {
    const read = () => projectionPosition(name, { db: opts.db, redis: opts.redis });
    const at = await waitForPosition(read, upTo, { timeoutMs: Math.max(0, deadline - Date.now()) });
    if (at < upTo) diff(`${name} position`, `>= ${upTo}`, at);
  }
  if (opts.db) {
    await checkHistory(opts.db, expected, opts.retention ?? { historyRetentionMs: 0 }, logStart, diff);
  }
  if (opts.redis) await checkCounters(opts.redis, expected, opts.previewMaxChars ?? 200, diff);
  const seeded = seed.conversations.size + seed.users.size;
  return { upTo, differences, snapshots: { verified: stored.size, seeded } };
}

/** A stored snapshot, normalised through the domain's codec (what the fold's capture is compared with). */
interface StoredState {
  position: number;
  json: string;
}

async function readSnapshots(store: SnapshotStore): Promise<Map<string, StoredState>> {
  const out = new Map<string, StoredState>();
  for await (const subject of store.subjects()) {
    const owner = parseEventSubject(subject);
    if (!owner) continue;
    let json: string;
    let position = 0;
    try {
      const snap = await store.load(subject);
      if (!snap) continue;
      position = snap.streamSeq;
      json =
        owner.kind === 'conv'
          ? JSON.stringify(snapshotConversation(restoreConversation(owner.id, snap.v, snap.state)))
          : JSON.stringify(snapshotUser(restoreUser(owner.id, snap.v, snap.state)));
    } catch (err) {
      json = `unreadable: ${(err as Error).message}`;
    }
    out.set(subject, { position, json });
  }
  return out;
}
