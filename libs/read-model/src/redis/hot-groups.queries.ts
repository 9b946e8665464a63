import { clampLimit } from '../paging';
import { type ParleyRedis } from './parley-redis';

const HOT_SNAPSHOT_SIZE = 100;

/** A group in the hot-groups ranking. */
export interface HotGroup {
  /** Conversation. */
  conversationId: string;
  /** Group name. */
  name: string;
  /** Distinct users who sent a message within the window. */
  speakers: number;
  /** Event time of the group's latest message. */
  lastActiveAt: number;
}

/**
 * The hot-groups ranking from Redis: candidates from the active shards, ranked by distinct speakers in
 * the window; a snapshot is reused for `cacheMs`, so a busy endpoint costs one computation per interval.
 */
export class HotGroupsQueries {
  private hot?: { at: number; groups: HotGroup[] };
  private hotPending?: Promise<HotGroup[]>;

  constructor(
    private readonly redis: ParleyRedis,
    private readonly o: { hotGroupsWindowMs: number; hotGroupsCacheMs: number; now: () => number },
  ) {}

  /**
   * Groups ranked by distinct speakers within the window (event time), then by latest activity; from a
   * snapshot reused for `hotGroupsCacheMs`, so a busy endpoint costs Redis one computation per interval.
   */
  async hotGroups(opts: { limit?: number } = {}): Promise<HotGroup[]> {
    const limit = clampLimit(opts.limit, 20, HOT_SNAPSHOT_SIZE);
    const now = this.o.now();
    if (!this.hot || now - this.hot.at >= this.o.hotGroupsCacheMs) {
      // One computation at a time; concurrent callers share it.
      this.hotPending ??= this.hotSnapshot(now).finally(() => (this.hotPending = undefined));
      this.hot = { at: now, groups: await this.hotPending };
    }
    return this.hot.groups.slice(0, limit);
  }

  private async hotSnapshot(now: number): Promise<HotGroup[]> {
    const since = now - this.o.hotGroupsWindowMs;
    const k = this.redis.keys;
    const shards = this.redis.client.pipeline();
    for (const key of k.activeAll()) shards.zrangebyscore(key, since, '+inf');
    const candidates = ((await shards.exec()) ?? []).flatMap(([err, ids]) => {
      if (err) throw err;
      return ids as string[];
    });
    if (candidates.length === 0) return [];
    const p = this.redis.client.pipeline();
    for (const cid of candidates) {
      p.zcount(k.speakers(cid), since, '+inf');
      p.hmget(k.head(cid), 'name', 'lastAt', 'dissolvedAt');
    }
    const replies = (await p.exec()) ?? [];
    const groups: HotGroup[] = [];
    candidates.forEach((conversationId, i) => {
      const [e1, speakers] = replies[2 * i];
      const [e2, head] = replies[2 * i + 1];
      if (e1 || e2) throw e1 ?? e2;
      const [name, lastAt, dissolvedAt] = head as Array<string | null>;
      if (dissolvedAt || Number(speakers) === 0) return;
      groups.push({
        conversationId,
        name: name ?? '',
        speakers: Number(speakers),
        lastActiveAt: Number(lastAt),
      });
    });
    groups.sort(
      (a, b) =>
        b.speakers - a.speakers ||
        b.lastActiveAt - a.lastActiveAt ||
        (a.conversationId < b.conversationId ? -1 : 1),
    );
    return groups.slice(0, HOT_SNAPSHOT_SIZE);
  }
}
