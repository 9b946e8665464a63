/**
 * History retention (DESIGN §15). A message past its conversation's retention leaves every read at
 * once (readers filter on its event time) and MySQL later (the projector's retention job); seq, lastSeq
 * and unread never change. These are the pure rules both sides share (docs/projections.md).
 */

/**
 * The retention of one conversation, in ms (0 = keep forever): the shorter of the deployment's
 * `IM_HISTORY_RETENTION_MS` and the conversation's own `retentionMs` (a group setting that arrives with
 * `GroupSettingsChanged`; null until then). 0 or null from either source means no limit from it.
 */
export function effectiveRetentionMs(
  historyRetentionMs: number,
  conversationRetentionMs?: number | null,
): number {
  const limits = [historyRetentionMs, conversationRetentionMs ?? 0].filter((ms) => ms > 0);
  return limits.length === 0 ? 0 : Math.min(...limits);
}

/**
 * The oldest event time (epoch ms) still retained at `now`: a message sent at `at >= cutoff` is kept,
 * an older one is gone. 0 when the retention is 0 (everything is kept).
 */
export function retentionCutoff(now: number, retentionMs: number): number {
  return retentionMs > 0 ? Math.max(0, now - retentionMs) : 0;
}

/** True while a message sent at `at` (epoch ms) is retained under `cutoff` (see {@link retentionCutoff}). */
export function isRetained(at: number, cutoff: number): boolean {
  return at >= cutoff;
}

/**
 * The boundary rule of `projection check`: may a message sent at `at` be missing from MySQL at `now`?
 * The job deleted only messages older than its own cutoff, taken at or before `now`, so a message
 * retained at `now` must be there. `marginMs` extends the optional zone past the cutoff for a job
 * running on a clock ahead of the checker's. Nothing may be missing when the retention is 0.
 */
export function mayBeDeletedByRetention(
  at: number,
  now: number,
  retentionMs: number,
  marginMs: number,
): boolean {
  return retentionMs > 0 && !isRetained(at, retentionCutoff(now + marginMs, retentionMs));
}
