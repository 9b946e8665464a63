import { effectiveRetentionMs, isRetained, mayBeDeletedByRetention, retentionCutoff } from './retention';

describe('history retention', () => {
  describe('effectiveRetentionMs', () => {
    it('keeps forever when neither the deployment nor the conversation limits it', () => {
      expect(effectiveRetentionMs(0)).toBe(0);
      expect(effectiveRetentionMs(0, null)).toBe(0);
      expect(effectiveRetentionMs(0, 0)).toBe(0);
    });

    it('takes whichever limit is set, and the shorter of two', () => {
      expect(effectiveRetentionMs(60_000)).toBe(60_000);
      expect(effectiveRetentionMs(0, 5_000)).toBe(5_000);
      expect(effectiveRetentionMs(60_000, 5_000)).toBe(5_000);
      expect(effectiveRetentionMs(5_000, 60_000)).toBe(5_000);
    });
  });

  describe('retentionCutoff and isRetained', () => {
    it('keeps every message when the retention is 0', () => {
      expect(retentionCutoff(1_000_000, 0)).toBe(0);
      expect(isRetained(0, retentionCutoff(1_000_000, 0))).toBe(true);
    });

    it('keeps a message sent exactly at the cutoff and drops one a millisecond older', () => {
      const cutoff = retentionCutoff(10_000, 3_000);
      expect(cutoff).toBe(7_000);
      expect(isRetained(7_000, cutoff)).toBe(true);
      expect(isRetained(6_999, cutoff)).toBe(false);
    });

    it('never goes below the epoch for a retention longer than the clock', () => {
      expect(retentionCutoff(1_000, 5_000)).toBe(0);
    });
  });

  describe('mayBeDeletedByRetention (the check boundary)', () => {
    it('requires every message when the retention is 0', () => {
      expect(mayBeDeletedByRetention(0, 10_000, 0, 1_000)).toBe(false);
    });

    it('lets a message past the cutoff be missing, never one retained beyond the margin', () => {
      // now 10 000, retention 3 000: cutoff 7 000; margin 500 makes it 7 500.
      expect(mayBeDeletedByRetention(6_999, 10_000, 3_000, 0)).toBe(true);
      expect(mayBeDeletedByRetention(7_000, 10_000, 3_000, 0)).toBe(false);
      expect(mayBeDeletedByRetention(7_499, 10_000, 3_000, 500)).toBe(true);
      expect(mayBeDeletedByRetention(7_500, 10_000, 3_000, 500)).toBe(false);
    });
  });
});
