import { parseServerList, splitCredentials } from './connection';

describe('connection', () => {
  it('splitCredentials › takes user:pass out of every URL (nats.js ignores URL credentials)', () => {
    expect(
      splitCredentials(
        parseServerList('nats://actors:s%40cret@nats1:4222, nats://actors:s%40cret@nats2:4222'),
      ),
    ).toEqual({ servers: ['nats://nats1:4222', 'nats://nats2:4222'], user: 'actors', pass: 's@cret' });
  });

  it('splitCredentials › leaves plain URLs alone and refuses mixed credentials', () => {
    expect(splitCredentials(['nats://127.0.0.1:4222'])).toEqual({ servers: ['nats://127.0.0.1:4222'] });
    expect(() => splitCredentials(['nats://a:x@h1:4222', 'nats://b:y@h2:4222'])).toThrow('same user:pass');
  });
});
