import { type ProjectionName } from '@parley/read-model';
import { type ProjectedEvent } from './projected-event';
import { type ProjectionSeed } from './seed';

/** A projection: a pure plan of a batch plus a thin writer, idempotent under any replay. */
export interface Projection {
  /** Name (also its checkpoint / position name). */
  readonly name: ProjectionName;
  /** Applies a batch and records `position` with it (the writes and the position never regress). */
  apply(events: ProjectedEvent[], position: number): Promise<void>;
  /** Writes what snapshots say about subjects whose early events expired (rebuild under log retention). */
  seed(seed: ProjectionSeed): Promise<void>;
  /**
   * Drops everything the projection wrote, position included (rebuild). `logStart` is the stream's first
   * position: what was projected from events before it cannot be derived again and may be kept.
   */
  reset(logStart?: number): Promise<void>;
  /** The recorded position: every event at or below it is applied. */
  position(): Promise<number>;
}

/** The durable consumer name of a projection on IM_EVENTS. */
export function durableName(name: ProjectionName): string {
  return `projector-${name}`;
}
