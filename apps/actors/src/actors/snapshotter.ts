import { Logger } from '@nestjs/common';
import { type EventLog, type Snapshot, type SnapshotStore, type StoredEvent } from '@parley/event-log';

/** Counters of a {@link Snapshotter}, for metrics and tests. */
export interface SnapshotStats {
  /** Snapshots written. */
  saved: number;
  /** Saves skipped because a snapshot at or past the position was already stored. */
  skipped: number;
  /** Saves that failed (logged; the next trigger tries again). */
  failed: number;
  /** Activations that started from a snapshot. */
  loaded: number;
  /** Snapshots found but ignored (unreadable, not matching the log, unknown version): full replay instead. */
  ignored: number;
}

/** When and where actors snapshot (DESIGN §15). */
export interface SnapshotSettings {
  /** Where snapshots live. */
  store: SnapshotStore;
  /** Save after this many events folded since the last snapshot (0: never save). */
  every: number;
  /** Saves running at once in the background (default 2). */
  concurrency?: number;
}

/**
 * Loads snapshots for activating actors (checked against the log first) and writes them in the
 * background, off the command path: a request only queues the subject, and the state is taken when
 * its turn comes, so a busy actor's requests coalesce into one save of its latest state.
 */
export class Snapshotter {
  private readonly log = new Logger('snapshots');
  /** Live counters. */
  readonly stats: SnapshotStats = { saved: 0, skipped: 0, failed: 0, loaded: 0, ignored: 0 };
  private readonly queued = new Map<string, () => Snapshot>();
  private running = 0;
  private drained: Array<() => void> = [];

  constructor(
    private readonly settings: SnapshotSettings,
    private readonly events: EventLog,
  ) {}

  /** Save after this many events (0: never). */
  get every(): number {
    return this.settings.every;
  }

  /** The stored snapshot of `subject`; undefined when there is none or it cannot be read (logged). */
  async read(subject: string): Promise<Snapshot | undefined> {
    try {
      return await this.settings.store.load(subject);
    } catch (err) {
      return this.ignore(subject, `cannot be read (${(err as Error).message})`);
    }
  }

  /**
   * The state a read snapshot restores to, when the log confirms it: its position is an event of this
   * subject (`last`, the subject's last event read alongside it, usually is that event), or lies before
   * the stream's first event (expired). Anything else, or a state the codec refuses, is logged and ignored.
   */
  async trust<S>(
    subject: string,
    snapshot: Snapshot,
    last: StoredEvent | undefined,
    restore: (v: number, json: unknown) => S,
  ): Promise<{ state: S; streamSeq: number; expired: boolean } | undefined> {
    const position = snapshot.streamSeq;
    let expired = false;
    if (last?.streamSeq !== position) {
      const at = await this.events.readAt(position);
      if (at && at.subject !== subject) {
        return this.ignore(subject, `position ${position} holds an event of ${at.subject}`);
      }
      if (!at) {
        const { first, last: end } = await this.events.bounds();
        if (position > end)
          return this.ignore(subject, `position ${position} is beyond the stream's end ${end}`);
        if (position >= first) return this.ignore(subject, `position ${position} holds no event`);
        expired = true; // retention took the event it ends at: the subject may hold none
      }
    }
    try {
      const state = restore(snapshot.v, snapshot.state);
      this.stats.loaded++;
      return { state, streamSeq: position, expired };
    } catch (err) {
      return this.ignore(subject, (err as Error).message);
    }
  }

  /** Queues a background save of `subject`; `take` is called when its turn comes. */
  request(subject: string, take: () => Snapshot): void {
    this.queued.set(subject, take);
    this.pump();
  }

  /** Saves now (the retention sweeper waits for it); answers whether a snapshot was written. */
  async saveNow(subject: string, snapshot: Snapshot): Promise<boolean> {
    const written = await this.settings.store.save(subject, snapshot);
    if (written) this.stats.saved++;
    else this.stats.skipped++;
    return written;
  }

  /** Resolves when every queued save finished (graceful shutdown). */
  idle(): Promise<void> {
    if (this.running === 0 && this.queued.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  private pump(): void {
    while (this.running < (this.settings.concurrency ?? 2) && this.queued.size > 0) {
      const [subject, take] = this.queued.entries().next().value as [string, () => Snapshot];
      this.queued.delete(subject);
      this.running++;
      void this.saveNow(subject, take())
        .catch((err: unknown) => {
          this.stats.failed++;
          this.log.warn(`snapshot of ${subject} not saved: ${(err as Error).message}`);
        })
        .finally(() => {
          this.running--;
          this.pump();
          if (this.running === 0 && this.queued.size === 0) for (const r of this.drained.splice(0)) r();
        });
    }
  }

  private ignore(subject: string, reason: string): undefined {
    this.stats.ignored++;
    this.log.warn(`snapshot of ${subject} ignored, replaying the subject in full: ${reason}`);
    return undefined;
  }
}
