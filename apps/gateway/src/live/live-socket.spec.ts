import { type WebSocket } from 'ws';
import { LiveSocket } from './live-socket';

/** A stand-in for a ws socket whose send buffer we control (the real one needs a stalled peer). */
function fakeWs(bufferedAmount: number) {
  const sent: string[] = [];
  const ws = {
    readyState: 1,
    bufferedAmount,
    send: (d: string) => sent.push(d),
    terminate: jest.fn(function (this: { readyState: number }) {
      this.readyState = 3;
    }),
  };
  return { ws, sent };
}

describe('LiveSocket', () => {
  it('sends frames as JSON while the buffer is under the bound', () => {
    const { ws, sent } = fakeWs(10);
    const s = new LiveSocket(ws as unknown as WebSocket, 'bob', 100);
    expect(s.send({ type: 'heartbeat', at: 1 })).toBe(true);
    expect(sent).toEqual(['{"type":"heartbeat","at":1}']);
  });

  it('disconnects a client whose unsent data passed the bound instead of buffering more', () => {
    const { ws, sent } = fakeWs(101);
    const slow = jest.fn();
    const s = new LiveSocket(ws as unknown as WebSocket, 'bob', 100, slow);
    expect(s.send({ type: 'heartbeat', at: 1 })).toBe(false);
    expect(ws.terminate).toHaveBeenCalled();
    expect(slow).toHaveBeenCalledWith(s);
    expect(sent).toEqual([]);
    expect(s.send({ type: 'heartbeat', at: 2 })).toBe(false);
  });
});
