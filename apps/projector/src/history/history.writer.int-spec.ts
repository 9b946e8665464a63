import { ParleyDatabase } from '@parley/read-model';
import { createTestDatabase, sharedInfra, uniqueName } from '@parley/testing';
import { MysqlQueryRunner } from 'typeorm/driver/mysql/MysqlQueryRunner';
import { type ProjectedEvent } from '../projected-event';
import { generateEvents } from '../testing/event-generator';
import { dumpMysql } from '../testing/projection-harness';
import { planHistory } from './history.plan';
import { HistoryWriter } from './history.writer';

describe('HistoryWriter (shared MariaDB)', () => {
  const dbs: ParleyDatabase[] = [];

  async function open(multipleStatements: boolean): Promise<ParleyDatabase> {
    const url = await createTestDatabase(sharedInfra().mysqlUrl, uniqueName('writer'));
    await (await ParleyDatabase.open(url, { migrate: true })).close();
    // One connection: a transaction left open by a failed write would be visible to the next one.
    const db = await ParleyDatabase.open(url, { multipleStatements, poolSize: 1 });
    dbs.push(db);
    return db;
  }

  const events: ProjectedEvent[] = generateEvents(2_000, { seed: 5 }).map((g, i) => ({
    event: g.event,
    streamSeq: i + 1,
  }));

  async function project(writer: HistoryWriter, batchSize: number): Promise<void> {
    for (let i = 0; i < events.length; i += batchSize) {
      const batch = events.slice(i, i + batchSize);
      await writer.write(planHistory(batch), batch[batch.length - 1].streamSeq);
    }
  }

  afterEach(() => jest.restoreAllMocks());

  afterAll(async () => {
    await Promise.allSettled(dbs.map((db) => db.close()));
  });

  it('writes the same rows with a transaction sent as one query as with one query per statement', async () => {
    const together = await open(true);
    const apart = await open(false);
    await project(new HistoryWriter(together), 100);
    await project(new HistoryWriter(apart), 100);
    const rows = await dumpMysql(together);
    expect((rows.messages as unknown[]).length).toBeGreaterThan(100);
    expect(rows).toEqual(await dumpMysql(apart));
  });

  it('sends a batch of messages as one query: START TRANSACTION, the upserts, the checkpoint, COMMIT', async () => {
    const db = await open(true);
    const writer = new HistoryWriter(db);
    const setup = events.slice(0, 200);
    await writer.write(planHistory(setup), 200);
    const messages = events.slice(200).filter((e) => e.event.type === 'MessageSent');
    const query = jest.spyOn(MysqlQueryRunner.prototype, 'query');
    await writer.write(planHistory(messages.slice(0, 50)), 300);
    expect(query).toHaveBeenCalledTimes(1);
    const sql = String(query.mock.calls[0][0]);
    expect(sql).toMatch(/^START TRANSACTION;\n/);
    expect(sql).toMatch(/INSERT INTO messages/);
    expect(sql).toMatch(/INSERT INTO projection_checkpoints/);
    expect(sql).toMatch(/;\nCOMMIT$/);
  });

  it('a statement failing inside the one query leaves nothing written and no transaction open', async () => {
    const db = await open(true);
    const writer = new HistoryWriter(db);
    const plan = planHistory([
      {
        streamSeq: 1,
        event: {
          type: 'MessageSent',
          v: 1,
          conversationId: 'd:a:b',
          at: 1_763_800_000_000,
          commandId: 'c1',
          data: { seq: 1, from: 'a', clientMsgId: 'm1', kind: 'text', body: 'hi', mentions: [] },
        },
      },
    ]);
    // A kind longer than its column (varchar(16)) fails the messages insert, after the conversation's.
    const bad = { ...plan, messages: plan.messages.map((m) => ({ ...m, kind: 'k'.repeat(40) })) };
    await expect(writer.write(bad, 1)).rejects.toThrow(/kind/);
    // The next write takes the same (only) connection: had the failed transaction stayed open, its
    // START TRANSACTION would have committed the failed one's conversation row.
    await writer.write(planHistory([]), 0);
    expect(await writer.position()).toBe(0);
    expect(await db.dataSource.query('SELECT id FROM conversations')).toEqual([]);

    await writer.write(plan, 1);
    expect(await writer.position()).toBe(1);
    expect(await db.dataSource.query('SELECT conversation_id, seq, kind FROM messages')).toEqual([
      { conversation_id: 'd:a:b', seq: 1, kind: 'text' },
    ]);
  });
});
