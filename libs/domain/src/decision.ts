/** Where a stored event sits in the log; evolve records it where replies need it (dedup answers). */
export interface EventPosition {
  /** The event's JetStream stream sequence. */
  streamSeq: number;
}

/** Time and identity of a command, supplied by the shell so that decide stays deterministic. */
export interface CommandMeta {
  /** Epoch ms the command is decided at; becomes the event's `at`. */
  now: number;
  /** Unique id of the command; becomes the event's `commandId`. */
  commandId: string;
}

/** What a decider concluded: append one event, do nothing (already so), or answer a duplicate send. */
export type Decision<E, D = never> =
  { type: 'append'; event: E } | { type: 'none' } | { type: 'duplicate'; original: D };
