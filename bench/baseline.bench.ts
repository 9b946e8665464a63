/**
 * The field's baseline against Parley, under the same load on the same machine:
 * - TeamTalk-style (written here only): per message Redis INCR for the seq, a synchronous MySQL INSERT,
 *   and HINCRBY unread for every other member (pipelined), acknowledged after all three.
 * - Parley: send over NATS request/reply to the actor host (ack after the event is in the log), with
 *   both projections running in the same process, so Parley pays for its MySQL and Redis writes too.
 * Each side sends to 10 groups of N members, 128 requests in flight; N = 2 and N = 500.
 */
import Redis from 'ioredis';
import { createPool, type Pool } from 'mysql2/promise';
import { type NatsConnection } from 'nats';
import { startTestActorHost } from '../apps/actors/src/actor-host.fixture';
import { openHarness } from '../apps/projector/src/testing/projection-harness';
import { connectToNats } from '@parley/event-log';
import { MariaDbServer, NatsServer, RedisServer } from '@parley/testing';
import { ask, type BenchRow, median, pool } from './lib';

const IN_FLIGHT = 128;
const GROUPS = 10;
const body = 'x'.repeat(120);

const membersOf = (size: number) => Array.from({ length: size }, (_, i) => `m${i}`);

/** TeamTalk-style send: INCR seq, INSERT the row, HINCRBY unread for every other member. */
async function teamTalkRun(db: Pool, redis: Redis, size: number, sends: number): Promise<number> {
  await db.query('DROP TABLE IF EXISTS tt_messages');
  await db.query(`CREATE TABLE tt_messages (
      relation VARCHAR(80) NOT NULL, msg_id BIGINT NOT NULL, from_id VARCHAR(64) NOT NULL,
      content TEXT NOT NULL, created INT NOT NULL, PRIMARY KEY (relation, msg_id)) ENGINE=InnoDB`);
  await redis.flushdb();
  const members = membersOf(size);
  const t = performance.now();
  await pool(sends, IN_FLIGHT, async (i) => {
    const group = `g${i % GROUPS}`;
    const from = members[i % members.length];
    const seq = await redis.incr(`msg_id_${group}`);
    await db.execute(
      'INSERT INTO tt_messages (relation, msg_id, from_id, content, created) VALUES (?, ?, ?, ?, ?)',
      [group, seq, from, body, Math.floor(Date.now() / 1000)],
    );
    const p = redis.pipeline();
    for (const m of members) if (m !== from) p.hincrby(`unread_${m}`, group, 1);
    await p.exec();
  });
  return sends / ((performance.now() - t) / 1000);
}

/** Parley send through the actor host, projections running alongside. */
async function parleyRun(nc: NatsConnection, size: number, sends: number, tag: string): Promise<number> {
  const members = membersOf(size);
  for (let g = 0; g < GROUPS; g++) {
    const gid = `${tag}${g}`;
    await ask(nc, `im.cmd.conv.g:${gid}.create`, {
      by: members[0],
      name: gid,
      members: members.slice(1, 1000),
    });
  }
  const t = performance.now();
  await pool(sends, IN_FLIGHT, async (i) => {
    await ask(nc, `im.cmd.conv.g:${tag}${i % GROUPS}.send`, {
      from: members[i % members.length],
      clientMsgId: `${tag}-${i}`,
      kind: 'text',
      body,
    });
  });
  return sends / ((performance.now() - t) / 1000);
}

export async function baselineBench(): Promise<BenchRow[]> {
  const [nats, mariadb, redisServer] = await Promise.all([
    NatsServer.start(),
    MariaDbServer.start(),
    RedisServer.start(),
  ]);
  const host = await startTestActorHost(nats.url);
  const nc = await connectToNats({ servers: nats.url, name: 'bench-baseline' });
  const redis = new Redis(redisServer.url);
  const admin = createPool({ uri: mariadb.url, connectionLimit: 2 });
  await admin.query('CREATE DATABASE IF NOT EXISTS teamtalk');
  await admin.end();
  const db = createPool({ uri: `${mariadb.url}teamtalk`, connectionLimit: 32 });
  const harness = await openHarness(nc, `${mariadb.url}parley`, redisServer.url, 'im:');
  await harness.start();
  const rows: BenchRow[] = [];
  try {
    for (const [size, sends] of [
      [2, 3_000],
      [500, 1_000],
    ] as const) {
      // Three alternating rounds each, medians quoted: the two sides share the machine's two cores.
      const tts: number[] = [];
      const parleys: number[] = [];
      for (let round = 0; round < 3; round++) {
        tts.push(await teamTalkRun(db, redis, size, sends));
        parleys.push(await parleyRun(nc, size, sends, `s${size}r${round}x`));
      }
      const tt = median(tts);
      const parley = median(parleys);
      rows.push(
        { bench: 'baseline', case: `TeamTalk-style, ${size}-member groups`, value: tt, unit: 'msgs/s' },
        {
          bench: 'baseline',
          case: `Parley, ${size}-member groups (projections running)`,
          value: parley,
          unit: 'msgs/s',
        },
        {
          bench: 'baseline',
          case: `ratio Parley / TeamTalk-style, ${size} members`,
          value: parley / tt,
          unit: 'ratio',
          note: size === 500 ? 'target ≥ 10' : 'target > 1',
        },
      );
    }
  } finally {
    await harness.close().catch(() => undefined);
    await db.end();
    redis.disconnect();
    await nc.close();
    await host.stop();
    await Promise.all([nats.dispose(), mariadb.dispose(), redisServer.dispose()]);
  }
  return rows;
}
