import { effectiveRetentionMs, type ParleyDatabase, retentionCutoff } from '@parley/read-model';
import { type QueryRunner } from 'typeorm';

/** Options of {@link HistoryRetention}. */
export interface HistoryRetentionOptions {
  /** `IM_HISTORY_RETENTION_MS` (0 = keep; a conversation's own `retention_ms` still applies). */
  historyRetentionMs: number;
  /** Rows per DELETE statement (`IM_HISTORY_RETENTION_BATCH`). */
  batchSize: number;
  /** The clock (tests pin it). */
  now?: () => number;
}

/** What one pass did. */
export interface RetentionPass {
  /** False when another process held the job's lock: this pass deleted nothing. */
  ran: boolean;
  /** The deployment-wide cutoff (epoch ms; 0 = none): messages sent before it were deleted. */
  cutoff: number;
  /** Message rows deleted. */
  deleted: number;
  /** DELETE statements run. */
  batches: number;
}

/**
 * One pass at a time across projector processes: a MySQL named lock, held by the pass's connection.
 * Named locks are server-wide, so the name carries the database (hashed to stay within 64 characters).
 */
const LOCK = "CONCAT('parley_retention_', MD5(DATABASE()))";

/**
 * Deletes the messages past retention from MySQL (DESIGN §15): readers already leave them out (a filter
 * on `sent_at`), so this only reclaims space. Each DELETE removes at most `batchSize` rows by an index
 * range and commits on its own, so no statement holds locks for long; seq, last_seq and every Redis
 * counter stay as they are. Idempotent: a rebuild that re-inserts old messages loses them again on the
 * next pass.
 */
export class HistoryRetention {
  private readonly now: () => number;

  constructor(
    private readonly db: ParleyDatabase,
    private readonly o: HistoryRetentionOptions,
  ) {
    this.now = o.now ?? Date.now;
  }

  /** One pass; `shouldStop` is asked between statements (shutdown waits for one statement at most). */
  async runOnce(shouldStop: () => boolean = () => false): Promise<RetentionPass> {
    const now = this.now();
    const cutoff = retentionCutoff(now, this.o.historyRetentionMs);
    const pass: RetentionPass = { ran: false, cutoff, deleted: 0, batches: 0 };
    const runner = this.db.dataSource.createQueryRunner();
    await runner.connect();
    try {
      const [{ got }] = (await runner.query(`SELECT GET_LOCK(${LOCK}, 0) AS got`)) as Array<{
        got: number | null;
      }>;
      if (got !== 1) return pass;
      pass.ran = true;
      try {
        if (cutoff > 0) await this.deletePast(runner, pass, cutoff, null, shouldStop);
        // A group's own retentionMs (GroupSettingsChanged, not projected yet: no rows today) where it is
        // shorter than the deployment's.
        const own = (await runner.query(
          'SELECT id, retention_ms FROM conversations WHERE retention_ms > 0',
        )) as Array<{ id: string; retention_ms: number }>;
        for (const c of own) {
          if (shouldStop()) break;
          const mine = retentionCutoff(
            now,
            effectiveRetentionMs(this.o.historyRetentionMs, Number(c.retention_ms)),
          );
          if (mine > cutoff) await this.deletePast(runner, pass, mine, c.id, shouldStop);
        }
      } finally {
        await runner.query(`SELECT RELEASE_LOCK(${LOCK})`);
      }
      return pass;
    } finally {
      await runner.release();
    }
  }

  /**
   * Deletes, in batches, the messages sent before `cutoff` (of one conversation, or of all), then the
   * recall-only rows left by a recall applied after its message was deleted (no `sent_at`; recalled
   * before the cutoff, so their message was older still).
   */
  private async deletePast(
    runner: QueryRunner,
    pass: RetentionPass,
    cutoff: number,
    conversationId: string | null,
    shouldStop: () => boolean,
  ): Promise<void> {
    const scope = conversationId === null ? '' : 'conversation_id = ? AND ';
    const key = conversationId === null ? [] : [conversationId];
    for (const where of ['sent_at < ?', 'sent_at IS NULL AND recalled_at < ?']) {
      while (!shouldStop()) {
        const r = (await runner.query(
          `DELETE FROM messages WHERE ${scope}${where} LIMIT ?`,
          [...key, new Date(cutoff), this.o.batchSize],
          true,
        )) as { affected?: number };
        const n = r.affected ?? 0;
        pass.batches += 1;
        pass.deleted += n;
        if (n < this.o.batchSize) break;
      }
    }
  }
}
