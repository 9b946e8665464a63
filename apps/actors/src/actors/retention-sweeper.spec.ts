import { expiringSubjects, sweepInterval } from './retention-sweeper';

const at = (ms: number) => new Date(ms);

describe('retention sweeper', () => {
  it('expiringSubjects › keeps the last expiring position of each subject and stops at the horizon', () => {
    const page = [
      { streamSeq: 10, subject: 'im.evt.conv.g:a', time: at(100) },
      { streamSeq: 11, subject: 'im.evt.user.bob', time: at(150) },
      { streamSeq: 12, subject: 'im.evt.conv.g:a', time: at(199) },
      { streamSeq: 13, subject: 'im.evt.conv.g:b', time: at(200) },
      { streamSeq: 14, subject: 'im.evt.conv.g:c', time: at(50) },
    ];
    expect(expiringSubjects(page, 200)).toEqual({
      subjects: new Map([
        ['im.evt.conv.g:a', 12],
        ['im.evt.user.bob', 11],
      ]),
      next: 13,
      reachedHorizon: true,
    });
  });

  it('expiringSubjects › a page wholly before the horizon goes on after its last event', () => {
    const page = [{ streamSeq: 7, subject: 'im.evt.conv.g:a', time: at(1) }];
    expect(expiringSubjects(page, 10)).toMatchObject({ next: 8, reachedHorizon: false });
    expect(expiringSubjects([], 10)).toMatchObject({ next: undefined, reachedHorizon: false });
  });

  it('sweepInterval › the setting, else a tenth of the max age within 1 s and 1 h', () => {
    expect(sweepInterval(60_000, 500)).toBe(500);
    expect(sweepInterval(60_000, 0)).toBe(6_000);
    expect(sweepInterval(2_000, 0)).toBe(1_000);
    expect(sweepInterval(30 * 24 * 3600_000, 0)).toBe(3_600_000);
  });
});
