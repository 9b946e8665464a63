import { type Socket } from 'node:net';
import { uniqueName, waitFor } from '@parley/testing';
import { Client, type LiveClient, startSystem, type TestSystem } from './support/system';

/**
 * A client that stops reading is disconnected once the server's unsent data for it passes
 * IM_WS_MAX_BUFFERED_BYTES, instead of being buffered without bound; other sockets keep receiving.
 */
describe('gateway WebSocket: a slow client', () => {
  let sys: TestSystem;
  const sockets: LiveClient[] = [];

  beforeAll(async () => {
    sys = await startSystem({
      // Room for the reading socket on a loaded machine (the test process reads it between sends);
      // the stalled one passes any bound once the kernel buffers are full.
      IM_WS_MAX_BUFFERED_BYTES: String(1024 * 1024),
      // The stalled socket cannot answer pings: under a loaded machine the heartbeat would close it
      // before the buffer bound does, and this test is about the bound.
      IM_WS_HEARTBEAT_MS: '3600000',
      IM_RATE_LIMIT_PER_SEC: '100000',
      IM_RATE_LIMIT_BURST: '100000',
    });
  });
  afterAll(async () => {
    await Promise.all(sockets.map((s) => s.close().catch(() => undefined)));
    await sys?.close();
  });

  const slowDisconnects = async () => {
    const text = await (await fetch(`${sys.gateway.url}/metrics`)).text();
    return Number(/^parley_ws_slow_disconnects_total (\d+)/m.exec(text)?.[1] ?? 0);
  };

  it('is cut off when it stops reading, while a reading socket gets every message', async () => {
    const alice = new Client(sys.gateway.url, uniqueName('alice'));
    const bob = new Client(sys.gateway.url, uniqueName('bob'));
    const gid = uniqueName('slow');
    await alice.ok('POST', '/v1/groups', { groupId: gid, name: 'Slow', members: [bob.userId] }, 201);
    const reader = await bob.socket();
    const stalled = await bob.socket();
    sockets.push(reader, stalled);
    // Stop reading: the kernel buffers fill, then the server's own buffer grows past the bound.
    (stalled.ws as unknown as { _socket: Socket })._socket.pause();
    const before = await slowDisconnects();

    const body = 'x'.repeat(16 * 1024);
    let sent = 0;
    // Bounded: loopback kernel buffers hold a few MB, i.e. a few hundred of these frames.
    while (sent < 3_000 && (await slowDisconnects()) === before) {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          alice.ok(
            'POST',
            `/v1/conversations/g:${gid}/messages`,
            { clientMsgId: `m${sent + i}`, kind: 'text', body },
            201,
          ),
        ),
      );
      sent += 50;
    }
    // The gateway pushes behind the sends (it reads each event back from the stream): give it time.
    await waitFor(async () => (await slowDisconnects()) > before, {
      timeoutMs: 60_000,
      intervalMs: 200,
      message: `the stalled socket to be cut off (sent ${sent}, reader got ${reader.of('message').length})`,
    });
    expect(await slowDisconnects()).toBe(before + 1);

    // The reading socket got every message, in order; the stalled one is closed once it reads again.
    await waitFor(() => reader.of('message').length === sent, { timeoutMs: 60_000 }).catch(() => undefined);
    expect({ got: reader.of('message').length, open: reader.ws.readyState === 1 }).toEqual({
      got: sent,
      open: true,
    });
    expect(reader.of('message').map((f) => f.message.seq)).toEqual(
      Array.from({ length: sent }, (_, i) => i + 1),
    );
    const closed = new Promise<void>((resolve) => stalled.ws.once('close', () => resolve()));
    (stalled.ws as unknown as { _socket: Socket })._socket.resume();
    await closed;
    expect(stalled.of('message').length).toBeLessThan(sent);
  }, 120_000);
});
