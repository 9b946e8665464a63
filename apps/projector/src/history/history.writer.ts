import { successorOf } from '@parley/domain';
import { historyPosition, type ParleyDatabase } from '@parley/read-model';
import { type QueryRunner } from 'typeorm';
import { type HistoryPlan, type MemberRow, type MembershipStep } from './history.plan';

/** Rows per multi-row statement, and the byte budget of one statement (well under max_allowed_packet). */
const MAX_ROWS = 500;
const MAX_BYTES = 2 * 1024 * 1024;

const date = (ms: number): Date => new Date(ms);

/** The checkpoint row of this projection. */
const CHECKPOINT = 'history';

/**
 * Writes a {@link HistoryPlan} to MySQL in one transaction, with the projection's checkpoint in the
 * same transaction. Every statement is an idempotent upsert: last_seq is a max, dissolved_at and
 * recalled_at are set once, member rows and the owner change only for a newer stream seq, and message
 * rows are keyed by (conversation_id, seq), so a replay in any batch split leaves the same rows.
 *
 * On a pool that allows several statements per query (the projector's), the transaction goes in one
 * round trip (`START TRANSACTION; …; COMMIT`) unless an owner election must read rows in between: on a
 * loaded machine every round trip waits for MySQL's thread and then this process to be scheduled, and
 * five of them per batch made the batches, and so the lag, several times longer.
 */
export class HistoryWriter {
  private readonly multipleStatements: boolean;

  constructor(private readonly db: ParleyDatabase) {
    this.multipleStatements =
      (db.dataSource.options as { multipleStatements?: boolean }).multipleStatements === true;
  }

  /** Applies a plan and moves the checkpoint to `position` (never backwards), atomically. */
  async write(plan: HistoryPlan, position: number): Promise<void> {
    const qr = this.db.dataSource.createQueryRunner();
    try {
      const tx = new Statements(qr, this.multipleStatements);
      await tx.add('START TRANSACTION', []);
      await this.conversations(tx, plan);
      await this.members(tx, plan.directMembers);
      for (const step of plan.membership) await this.membershipStep(tx, step);
      await this.messages(tx, plan);
      await tx.add(
        'INSERT INTO projection_checkpoints (name, stream_seq) VALUES (?, ?) ' +
          'ON DUPLICATE KEY UPDATE stream_seq = GREATEST(stream_seq, VALUES(stream_seq))',
        [CHECKPOINT, position],
      );
      await tx.add('COMMIT', []);
      await tx.flush();
    } catch (err) {
      // A failed statement stops the rest of its query, COMMIT included: the transaction is still open.
      await qr.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      await qr.release();
    }
  }

  /**
   * Drops every row of the history projection (rebuild), except messages of events before `logStart`
   * (log retention expired them: these rows are the only copy left).
   */
  async reset(logStart = 1): Promise<void> {
    if (logStart <= 1) await this.db.dataSource.query('TRUNCATE TABLE `messages`');
    else {
      await this.db.dataSource.query('DELETE FROM messages WHERE stream_seq IS NULL OR stream_seq >= ?', [
        logStart,
      ]);
    }
    for (const t of ['conversation_members', 'conversations']) {
      await this.db.dataSource.query(`TRUNCATE TABLE \`${t}\``);
    }
    await this.db.dataSource.query('DELETE FROM projection_checkpoints WHERE name = ?', [CHECKPOINT]);
  }

  /** The checkpoint (0 when none). */
  position(): Promise<number> {
    return historyPosition(this.db);
  }

  private async conversations(tx: Statements, plan: HistoryPlan): Promise<void> {
    // Assignments run left to right on the updated row: last_message_at must read the old last_seq.
    await insertMany(
      tx,
      'INSERT INTO conversations (id, type, last_seq, last_message_at, created_at) VALUES',
      '(?, ?, ?, ?, ?)',
      plan.touched.map((t) => [t.id, t.type, t.lastSeq, date(t.lastMessageAt), date(t.createdAt)]),
      'ON DUPLICATE KEY UPDATE ' +
        'last_message_at = IF(VALUES(last_seq) > last_seq, VALUES(last_message_at), last_message_at), ' +
        'last_seq = GREATEST(last_seq, VALUES(last_seq)), ' +
        'created_at = LEAST(created_at, VALUES(created_at))',
    );
    await insertMany(
      tx,
      'INSERT INTO conversations (id, type, name, owner, owner_version, created_at) VALUES',
      "(?, 'group', ?, ?, ?, ?)",
      plan.created.map((c) => [c.id, c.name, c.owner, c.ownerVersion, date(c.createdAt)]),
      'ON DUPLICATE KEY UPDATE name = VALUES(name), ' +
        'owner = IF(VALUES(owner_version) > owner_version, VALUES(owner), owner), ' +
        'owner_version = GREATEST(owner_version, VALUES(owner_version)), ' +
        'created_at = LEAST(created_at, VALUES(created_at))',
    );
    await insertMany(
      tx,
      'INSERT INTO conversations (id, type, dissolved_at, created_at) VALUES',
      '(?, ?, ?, ?)',
      plan.dissolved.map((d) => [d.id, d.type, date(d.dissolvedAt), date(d.dissolvedAt)]),
      'ON DUPLICATE KEY UPDATE dissolved_at = COALESCE(dissolved_at, VALUES(dissolved_at))',
    );
  }

  /**
   * Versioned upsert of member rows: a row changes only for a newer stream seq. A leave keeps the row's
   * join_seq and joined_at (the leave does not carry them); a new row from a leave seen before its join
   * (a redelivery out of order) gets join_seq 0, which never matters for a member who left.
   */
  private async members(tx: Statements, rows: MemberRow[]): Promise<void> {
    const newer = 'VALUES(version) > version';
    await insertMany(
      tx,
      'INSERT INTO conversation_members (conversation_id, user_id, role, join_seq, left_seq, joined_at, version) VALUES',
      '(?, ?, ?, ?, ?, ?, ?)',
      rows.map((r) => [
        r.conversationId,
        r.userId,
        r.role,
        r.joinSeq,
        r.leftSeq,
        date(r.joinedAt),
        r.version,
      ]),
      'ON DUPLICATE KEY UPDATE ' +
        `role = IF(${newer}, VALUES(role), role), ` +
        `join_seq = IF(${newer} AND VALUES(left_seq) IS NULL, VALUES(join_seq), join_seq), ` +
        `joined_at = IF(${newer} AND VALUES(left_seq) IS NULL, VALUES(joined_at), joined_at), ` +
        `left_seq = IF(${newer}, VALUES(left_seq), left_seq), ` +
        'version = GREATEST(version, VALUES(version))',
    );
  }

  private async membershipStep(tx: Statements, step: MembershipStep): Promise<void> {
    await this.members(tx, step.rows);
    const check = step.ownerCheck;
    if (!check) return;
    if (check.kind === 'named') {
      // The event names the owner: no read, so the transaction stays one round trip.
      await this.setOwner(tx, step, check.owner);
      return;
    }
    // Written before events named the owner: elect as the domain does, from the rows as of this event.
    const [row] = (await tx.read('SELECT owner, owner_version FROM conversations WHERE id = ? FOR UPDATE', [
      step.conversationId,
    ])) as Array<{ owner: string; owner_version: number }>;
    if (!row || Number(row.owner_version) >= step.streamSeq) return; // a newer event already decided
    const elect = check.kind === 'left' ? row.owner === check.userId : row.owner === '';
    if (!elect) return;
    const members = (await tx.read(
      'SELECT user_id, join_seq FROM conversation_members WHERE conversation_id = ? AND left_seq IS NULL',
      [step.conversationId],
    )) as Array<{ user_id: string; join_seq: number }>;
    await this.setOwner(
      tx,
      step,
      successorOf(members.map((m) => [m.user_id, { joinSeq: Number(m.join_seq) }] as const)),
    );
  }

  /** Sets the owner as of the step's event, unless a newer event already did (owner_version). */
  private async setOwner(tx: Statements, step: MembershipStep, owner: string): Promise<void> {
    await tx.add('UPDATE conversations SET owner = ?, owner_version = ? WHERE id = ? AND owner_version < ?', [
      owner,
      step.streamSeq,
      step.conversationId,
      step.streamSeq,
    ]);
    if (!owner) return;
    // Only when the update above took (the conversation now holds this owner at this version).
    await tx.add(
      "UPDATE conversation_members cm JOIN conversations c ON c.id = cm.conversation_id SET cm.role = 'owner' " +
        'WHERE cm.conversation_id = ? AND cm.user_id = ? AND c.owner = ? AND c.owner_version = ?',
      [step.conversationId, owner, owner, step.streamSeq],
    );
  }

  private async messages(tx: Statements, plan: HistoryPlan): Promise<void> {
    await insertMany(
      tx,
      'INSERT INTO messages (conversation_id, seq, stream_seq, sender, client_msg_id, kind, body, mentions, sent_at) VALUES',
      '(?, ?, ?, ?, ?, ?, ?, ?, ?)',
      plan.messages.map((m) => [
        m.conversationId,
        m.seq,
        m.streamSeq,
        m.sender,
        m.clientMsgId,
        m.kind,
        m.body,
        m.mentions,
        date(m.sentAt),
      ]),
      // recalled_at is left alone: a recall may have been applied first.
      'ON DUPLICATE KEY UPDATE stream_seq = VALUES(stream_seq), sender = VALUES(sender), ' +
        'client_msg_id = VALUES(client_msg_id), kind = VALUES(kind), body = VALUES(body), ' +
        'mentions = VALUES(mentions), sent_at = VALUES(sent_at)',
    );
    await insertMany(
      tx,
      'INSERT INTO messages (conversation_id, seq, recalled_at, recalled_stream_seq) VALUES',
      '(?, ?, ?, ?)',
      plan.recalls.map((r) => [r.conversationId, r.seq, date(r.recalledAt), r.recalledStreamSeq]),
      'ON DUPLICATE KEY UPDATE recalled_at = COALESCE(recalled_at, VALUES(recalled_at)), ' +
        'recalled_stream_seq = COALESCE(recalled_stream_seq, VALUES(recalled_stream_seq))',
    );
  }
}

/**
 * The statements of one transaction, sent as few queries as the connection allows: with several
 * statements per query, one flush before a read that needs the writes before it, when the text would
 * pass the byte budget, and at the end; otherwise each statement on its own.
 */
class Statements {
  private sql: string[] = [];
  private params: unknown[] = [];
  private bytes = 0;

  constructor(
    private readonly qr: QueryRunner,
    private readonly together: boolean,
  ) {}

  /** Queues a statement without a result (`bytes`: an estimate of its size). */
  async add(sql: string, params: unknown[], bytes = sql.length): Promise<void> {
    if (!this.together) {
      await this.qr.query(sql, params);
      return;
    }
    if (this.sql.length > 0 && this.bytes + bytes > MAX_BYTES) await this.flush();
    this.sql.push(sql);
    this.params.push(...params);
    this.bytes += bytes;
  }

  /** Sends what is queued, then runs a query whose rows are needed. */
  async read(sql: string, params: unknown[]): Promise<unknown[]> {
    await this.flush();
    return (await this.qr.query(sql, params)) as unknown[];
  }

  /** Sends what is queued, in one query. */
  async flush(): Promise<void> {
    if (this.sql.length === 0) return;
    const [sql, params] = [this.sql.join(';\n'), this.params];
    [this.sql, this.params, this.bytes] = [[], [], 0];
    await this.qr.query(sql, params);
  }
}

/** Queues `head tuple, tuple … tail` in statements bounded by rows and bytes. */
async function insertMany(
  tx: Statements,
  head: string,
  tuple: string,
  rows: unknown[][],
  tail: string,
): Promise<void> {
  let chunk: unknown[][] = [];
  let bytes = 0;
  const flush = async () => {
    if (chunk.length === 0) return;
    await tx.add(`${head} ${chunk.map(() => tuple).join(', ')} ${tail}`, chunk.flat(), bytes);
    chunk = [];
    bytes = 0;
  };
  for (const row of rows) {
    const size = row.reduce<number>((s, v) => s + (typeof v === 'string' ? Buffer.byteLength(v) : 8), 16);
    if (chunk.length >= MAX_ROWS || (chunk.length > 0 && bytes + size > MAX_BYTES)) await flush();
    chunk.push(row);
    bytes += size;
  }
  await flush();
}
