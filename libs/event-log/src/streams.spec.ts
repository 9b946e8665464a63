import { desiredStreams, EVENTS_STREAM, expectedSequenceUnsafe, INGRESS_STREAM } from './streams';

describe('streams', () => {
  it('expectedSequenceUnsafe › warns only for replicated streams on servers older than 2.9.21', () => {
    expect(expectedSequenceUnsafe('2.9.10', 3)).toBe(true);
    expect(expectedSequenceUnsafe('2.9.10', 1)).toBe(false);
    expect(expectedSequenceUnsafe('2.9.21', 3)).toBe(false);
    expect(expectedSequenceUnsafe('2.10.0', 3)).toBe(false);
    expect(expectedSequenceUnsafe('2.8.4', 3)).toBe(true);
  });

  it('desiredStreams › IM_EVENTS keeps everything, denies delete and purge; IM_INGRESS is a work queue', () => {
    const [events, ingress] = desiredStreams({ replicas: 3 });
    expect(events).toMatchObject({
      name: EVENTS_STREAM,
      subjects: ['im.evt.>'],
      retention: 'limits',
      storage: 'file',
      max_age: 0,
      duplicate_window: 120_000_000_000,
      num_replicas: 3,
      deny_delete: true,
      deny_purge: true,
    });
    expect(ingress).toMatchObject({ name: INGRESS_STREAM, subjects: ['im.in.>'], retention: 'workqueue' });
  });
});
