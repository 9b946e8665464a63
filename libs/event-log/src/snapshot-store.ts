/** An actor's folded state, valid at stream position `streamSeq` (DESIGN §15). */
export interface Snapshot {
  /** Version of the state's JSON form (the domain's snapshot codec decides what it means). */
  v: number;
  /** Stream seq of the last event folded into the state: the subject's tail starts after it. */
  streamSeq: number;
  /** The state's JSON form. */
  state: unknown;
}

/** A stored snapshot could not be read back whole (damaged, truncated, not ours): ignore it and replay. */
export class SnapshotUnreadableError extends Error {
  override readonly name = 'SnapshotUnreadableError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/**
 * Where actors keep snapshots, one per event subject (a port; a JetStream KV bucket implements it).
 * Correctness never depends on it: a missing or unreadable snapshot costs a full replay, nothing else.
 */
export abstract class SnapshotStore {
  /** The snapshot of `subject`, undefined when there is none; throws SnapshotUnreadableError for a damaged one. */
  abstract load(subject: string): Promise<Snapshot | undefined>;
  /** The position of `subject`'s snapshot without reading its state (0 when there is none). */
  abstract position(subject: string): Promise<number>;
  /** Saves `snapshot` unless one at or past its position is stored; answers whether it was written. */
  abstract save(subject: string, snapshot: Snapshot): Promise<boolean>;
  /** Every subject that has a snapshot. */
  abstract subjects(): AsyncIterable<string>;
}
