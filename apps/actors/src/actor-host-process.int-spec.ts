import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type NatsConnection } from 'nats';
import { conversationEventSubject, decodeEvent } from '@parley/contracts';
import { connectToNats, JetStreamEventLog } from '@parley/event-log';
import { NatsServer, waitFor } from '@parley/testing';

const enc = new TextEncoder();
const dec = new TextDecoder();
const root = join(__dirname, '../../..');

/** Starts `apps/actors` as a real process, like `npm start` does, and resolves once it serves. */
async function spawnHost(natsUrl: string, client: NatsConnection): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [join(root, 'scripts/run-ts.js'), join(root, 'apps/actors/src/main.ts')],
    {
      env: { ...process.env, NATS_URL: natsUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  );
  await waitFor(
    async () => {
      try {
        await client.request('im.cmd.conv.g:probe.dissolve', enc.encode('{"by":"x"}'), { timeout: 500 });
        return true;
      } catch {
        return false;
      }
    },
    { timeoutMs: 60_000, intervalMs: 200, message: 'actor host process serving' },
  );
  return child;
}

describe('actor host process killed with -9 (own nats-server)', () => {
  let server: NatsServer;
  let client: NatsConnection;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    server = await NatsServer.start();
    client = await connectToNats({ servers: server.url, name: 'client' });
  });
  afterAll(async () => {
    children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
    await client?.close();
    await server?.dispose();
  });

  it('a new host continues at the right seq and every acknowledged send is in the log', async () => {
    const first = await spawnHost(server.url, client);
    children.push(first);
    const create = JSON.parse(
      dec.decode(
        (
          await client.request(
            'im.cmd.conv.g:crash.create',
            enc.encode('{"by":"a","name":"crash","members":["b"]}'),
            { timeout: 10_000 },
          )
        ).data,
      ),
    );
    expect(create.ok).toBe(true);

    const acked = new Map<string, number>();
    let i = 0;
    let killed = false;
    const sender = async (lane: number) => {
      // Keeps sending until the kill has happened and some sends went through the new host.
      while (i < 3_000) {
        const id = `k${lane}-${i++}`;
        try {
          const m = await client.request(
            'im.cmd.conv.g:crash.send',
            enc.encode(JSON.stringify({ from: 'a', clientMsgId: id, kind: 'text', body: id })),
            { timeout: 2_000 },
          );
          const r = JSON.parse(dec.decode(m.data));
          if (r.ok) acked.set(id, r.result.seq);
        } catch {
          // No responder or timeout while no host runs: not acknowledged, may or may not be in the log.
        }
        if (killed && acked.size > 0 && i > 2_000) return;
      }
    };
    const lanes = Promise.all([1, 2, 3, 4].map(sender));
    await waitFor(() => acked.size >= 300, { timeoutMs: 60_000, message: '300 acked before the kill' });
    first.kill('SIGKILL');
    killed = true;
    const second = await spawnHost(server.url, client);
    children.push(second);
    await lanes;

    const log = await JetStreamEventLog.create(client);
    const events = (await log.readSubject(conversationEventSubject('g:crash'))).map((e) =>
      decodeEvent(e.data),
    );
    const sent = events.filter((e) => e.type === 'MessageSent') as Array<{
      data: { seq: number; clientMsgId: string };
    }>;
    expect(sent.map((e) => e.data.seq)).toEqual(sent.map((_, k) => k + 1));
    const logged = new Map(sent.map((e) => [e.data.clientMsgId, e.data.seq]));
    for (const [id, seq] of acked) expect(logged.get(id)).toBe(seq);
    expect(new Set(sent.map((e) => e.data.clientMsgId)).size).toBe(sent.length);
    console.log(
      `kill -9 test: ${i} sends attempted, ${acked.size} acknowledged, ${sent.length} in the log, lost: 0`,
    );
    second.kill('SIGTERM');
  }, 240_000);
});
