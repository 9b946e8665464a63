import { countersPosition, type ParleyRedis } from '@parley/read-model';
import { type CountersPlan, countersCommands } from './counters.plan';

/**
 * Writes a {@link CountersPlan} to Redis in one pipeline (one round trip), then moves the resume
 * position. Every command is a single-key monotonic merge, so the pipeline needs no transaction: a
 * partial write before a failure is simply written again by the retry, with the same result.
 */
export class CountersWriter {
  constructor(private readonly redis: ParleyRedis) {}

  /** Applies a plan, then sets the position to `position` (never backwards). */
  async write(plan: CountersPlan, position: number): Promise<void> {
    const commands = countersCommands(plan, this.redis.keys);
    if (commands.length > 0) {
      const p = this.redis.client.pipeline();
      for (const c of commands) {
        if (c.cmd === 'zaddGt') p.zadd(c.key, 'GT', ...c.args);
        else p[c.cmd](c.key, ...(c.args as string[]));
      }
      const replies = (await p.exec()) ?? [];
      const failed = replies.find(([err]) => err);
      if (failed) throw failed[0];
    }
    // Only after the merges: a position in Redis promises that everything below it is there.
    await this.redis.client.parleySetmax(this.redis.keys.position('counters'), position);
  }

  /** Deletes every key of the prefix (rebuild). */
  async reset(): Promise<void> {
    await this.redis.deleteAll();
  }

  /** The resume position (0 when none). */
  async position(): Promise<number> {
    return countersPosition(this.redis);
  }
}
