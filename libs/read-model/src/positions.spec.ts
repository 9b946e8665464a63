import { waitForPosition } from './positions';

describe('waitForPosition', () => {
  it('resolves with the position once it reaches the target', async () => {
    let at = 0;
    const read = () => (at += 1);
    await expect(waitForPosition(read, 3, { timeoutMs: 5_000 })).resolves.toBe(3);
  });

  it('resolves below the target when the wait times out', async () => {
    await expect(waitForPosition(() => 1, 2, { timeoutMs: 20 })).resolves.toBe(1);
  });

  it('untilStalled › the timeout counts from the last move, not the start', async () => {
    let at = 0;
    const t0 = Date.now();
    // Moves by one every read (reads are at least 5 ms apart): well past 30 ms in total, never stalled.
    const reached = await waitForPosition(() => (at += 1), 12, { timeoutMs: 30, untilStalled: true });
    expect(reached).toBe(12);
    expect(Date.now() - t0).toBeGreaterThan(30);
  });
});
