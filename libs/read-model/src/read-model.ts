import {
  type GroupView,
  type HistoryPage,
  type HistoryQuery,
  HistoryQueries,
  type SyncPage,
} from './mysql/history.queries';
import { type ParleyDatabase } from './mysql/database';
import { projectionPosition, waitForPosition } from './positions';
import { type HotGroup, HotGroupsQueries } from './redis/hot-groups.queries';
import { type ParleyRedis } from './redis/parley-redis';
import { ReadStateQueries, type SessionView, type UnreadSummary } from './redis/read-state.queries';
import { type ProjectionName } from './redis/redis-keys';

export {
  type GroupView,
  type HistoryPage,
  type HistoryQuery,
  messageFromRow,
  type SyncPage,
} from './mysql/history.queries';
export { type HotGroup } from './redis/hot-groups.queries';
export { ReadStateQueries, type SessionView, type UnreadSummary } from './redis/read-state.queries';

/** Tuning of a {@link ReadModel}. */
export interface ReadModelOptions {
  /** Window of the hot-groups ranking, in ms of event time (default 5 min). */
  hotGroupsWindowMs?: number;
  /** How long a hot-groups snapshot is reused, in ms (default 3 s). */
  hotGroupsCacheMs?: number;
  /** Default bound of a read-your-writes wait, in ms (default 2 s). */
  readYourWritesTimeoutMs?: number;
  /**
   * `IM_HISTORY_RETENTION_MS`: messages older than this are left out of history, sync and the session
   * preview, whether or not the retention job deleted them yet (default 0 = keep forever).
   */
  historyRetentionMs?: number;
  /** The clock (tests pin it; retention cutoffs are taken from it). */
  now?: () => number;
}

/**
 * The queries the gateway answers from the projections, one object over the parts that hold them: read
 * state from Redis ({@link ReadStateQueries}), history, sync and groups from MySQL ({@link HistoryQueries}),
 * the hot-groups ranking ({@link HotGroupsQueries}), and read-your-writes waits on the projections' positions.
 */
export class ReadModel {
  private readonly o: Required<ReadModelOptions>;
  private readonly readState: ReadStateQueries;
  private readonly historyQueries: HistoryQueries;
  private readonly hot: HotGroupsQueries;

  constructor(
    private readonly db: ParleyDatabase,
    private readonly redis: ParleyRedis,
    opts: ReadModelOptions = {},
  ) {
    this.o = {
      hotGroupsWindowMs: opts.hotGroupsWindowMs ?? 5 * 60 * 1000,
      hotGroupsCacheMs: opts.hotGroupsCacheMs ?? 3_000,
      readYourWritesTimeoutMs: opts.readYourWritesTimeoutMs ?? 2_000,
      historyRetentionMs: opts.historyRetentionMs ?? 0,
      now: opts.now ?? Date.now,
    };
    this.readState = new ReadStateQueries(redis, this.o);
    this.historyQueries = new HistoryQueries(db, this.o);
    this.hot = new HotGroupsQueries(redis, this.o);
  }

  /** See {@link ReadStateQueries.unread}. */
  unread(userId: string): Promise<UnreadSummary> {
    return this.readState.unread(userId);
  }

  /** See {@link ReadStateQueries.sessions}. */
  sessions(userId: string, opts: { limit?: number } = {}): Promise<{ conversations: SessionView[] }> {
    return this.readState.sessions(userId, opts);
  }

  /** See {@link ReadStateQueries.members}. */
  members(conversationId: string): Promise<Array<{ userId: string; joinSeq: number }>> {
    return this.readState.members(conversationId);
  }

  /** See {@link HistoryQueries.group}. */
  group(userId: string, groupId: string): Promise<GroupView> {
    return this.historyQueries.group(userId, groupId);
  }

  /** See {@link HistoryQueries.history}. */
  history(userId: string, conversationId: string, q: HistoryQuery = {}): Promise<HistoryPage> {
    return this.historyQueries.history(userId, conversationId, q);
  }

  /** See {@link HistoryQueries.sync}. */
  sync(userId: string, q: { cursor?: number; limit?: number } = {}): Promise<SyncPage> {
    return this.historyQueries.sync(userId, q);
  }

  /** See {@link HotGroupsQueries.hotGroups}. */
  hotGroups(opts: { limit?: number } = {}): Promise<HotGroup[]> {
    return this.hot.hotGroups(opts);
  }

  /** The stream seq up to which a projection applied every event (0 before its first batch). */
  position(name: ProjectionName): Promise<number> {
    return projectionPosition(name, { db: this.db, redis: this.redis });
  }

  /**
   * Read-your-writes: waits until the projections passed `streamSeq` (e.g. the one a send returned),
   * bounded by `timeoutMs`. Resolves true when they did, false on timeout (the caller reads anyway).
   */
  async waitForProjections(
    streamSeq: number,
    opts: { projections?: ProjectionName[]; timeoutMs?: number } = {},
  ): Promise<boolean> {
    const names = opts.projections ?? (['history', 'counters'] as ProjectionName[]);
    const timeoutMs = opts.timeoutMs ?? this.o.readYourWritesTimeoutMs;
    // A projection that passed is not asked again.
    const passed = new Set<ProjectionName>();
    const lowest = async () => {
      const pending = names.filter((n) => !passed.has(n));
      const positions = await Promise.all(pending.map((n) => this.position(n)));
      pending.forEach((n, i) => positions[i] >= streamSeq && passed.add(n));
      return passed.size === names.length ? streamSeq : Math.min(...positions);
    };
    return (await waitForPosition(lowest, streamSeq, { timeoutMs, now: this.o.now })) >= streamSeq;
  }
}
