import { MessageWindow } from './message-window';

const limits = { dedupWindowMs: 1_000, maxDedupEntries: 50, recallWindowMs: 500, maxRecallEntries: 80 };
const push = (w: MessageWindow, seq: number, at = seq * 10) =>
  w.push({ seq, from: `u${seq % 3}`, clientMsgId: `c${seq}`, streamSeq: 100 + seq * 2, at }, limits);

describe('MessageWindow', () => {
  it('keeps the last N sends for dedup and the last M messages for recall, through wraparound and growth', () => {
    const w = new MessageWindow();
    for (let seq = 1; seq <= 1_000; seq++) push(w, seq, 0); // same time: only the counts bound it
    expect(w.dedupSize).toBe(50);
    expect(w.recallSize).toBe(80);
    expect(w.original('u0', 'c951')).toEqual({ seq: 951, streamSeq: 2002, at: 0 });
    expect(w.original('u2', 'c950')).toBeUndefined();
    expect(w.recallable(921)).toEqual({ from: 'u0', at: 0, recalled: false }); // 921 % 3 = 0
    expect(w.recallable(920)).toBeUndefined();
    expect(w.recallable(1_001)).toBeUndefined();
  });

  it('forgets by event time, each use by its own window', () => {
    const w = new MessageWindow();
    for (let seq = 1; seq <= 200; seq++) push(w, seq); // at = 10 × seq
    // now = 2,000: dedup keeps at >= 1,000 (seq >= 100, then the count: the last 50), recall at >= 1,500.
    expect(w.dedupSize).toBe(50);
    expect(w.recallable(150)).toBeDefined();
    expect(w.recallable(149)).toBeUndefined();
  });

  it('marks recalls, and a JSON round trip (after wraparound) answers the same', () => {
    const w = new MessageWindow();
    for (let seq = 1; seq <= 333; seq++) push(w, seq, 5 * seq);
    w.markRecalled(330);
    w.markRecalled(1); // long gone: nothing happens
    const back = MessageWindow.fromJSON(JSON.parse(JSON.stringify(w)));
    expect(back.toJSON()).toEqual(w.toJSON());
    for (let seq = 250; seq <= 334; seq++) {
      expect(back.recallable(seq)).toEqual(w.recallable(seq));
      expect(back.original(`u${seq % 3}`, `c${seq}`)).toEqual(w.original(`u${seq % 3}`, `c${seq}`));
    }
    expect(back.recallable(330)?.recalled).toBe(true);
    push(back, 334, 5 * 334);
    push(w, 334, 5 * 334);
    expect(back.toJSON()).toEqual(w.toJSON());
  });

  it('refuses columns that do not fit together', () => {
    const j = (() => {
      const w = new MessageWindow();
      push(w, 1);
      return w.toJSON();
    })();
    expect(() => MessageWindow.fromJSON({ ...j, from: [7] })).toThrow();
    expect(() => MessageWindow.fromJSON({ ...j, dedupFrom: 9 })).toThrow();
  });
});
