import { Logger } from '@nestjs/common';
import { parseEventSubject } from '@parley/contracts';
import { type EventLog, type SnapshotStore } from '@parley/event-log';

/** Settings of a {@link RetentionSweeper}. */
export interface RetentionSweeperSettings {
  /** The stream's max age (IM_EVENTS_MAX_AGE_MS > 0). */
  maxAgeMs: number;
  /** Time between sweeps (IM_SNAPSHOT_SWEEP_MS; 0: a tenth of the max age, within 1 s..1 h). */
  everyMs: number;
  /** Events read per scan page (default 2,000). */
  pageSize?: number;
  /** Snapshots taken at once (default 8). */
  concurrency?: number;
}

/** What the sweeper needs from the actor host. */
export interface SweepTargets {
  /** True when this host is the one to snapshot the subject's actor (it owns its partition). */
  owns(subject: string): boolean;
  /** Activates the subject's actor (snapshot + tail) and saves a snapshot of it now. */
  snapshotNow(subject: string): Promise<void>;
}

/** Counters of a {@link RetentionSweeper}. */
export interface SweepStats {
  /** Sweeps finished. */
  sweeps: number;
  /** Snapshots it caused. */
  snapshots: number;
  /** Subjects it could not cover (logged; the next sweep tries again). */
  failures: number;
}

/** The subjects of a scanned page whose events fall before `horizon`, and how far the page was covered. */
export function expiringSubjects(
  page: Array<{ streamSeq: number; subject: string; time: Date }>,
  horizon: number,
): { subjects: Map<string, number>; next: number | undefined; reachedHorizon: boolean } {
  const subjects = new Map<string, number>();
  let next: number | undefined;
  for (const e of page) {
    if (e.time.getTime() >= horizon) return { subjects, next, reachedHorizon: true };
    subjects.set(e.subject, e.streamSeq);
    next = e.streamSeq + 1;
  }
  return { subjects, next, reachedHorizon: false };
}

/** The sweep interval for a max age: the setting, else a tenth of the age within 1 s and 1 h. */
export function sweepInterval(maxAgeMs: number, everyMs: number): number {
  return everyMs > 0 ? everyMs : Math.min(3_600_000, Math.max(1_000, Math.floor(maxAgeMs / 10)));
}

/**
 * Makes a finite IM_EVENTS_MAX_AGE_MS safe (DESIGN §15): every sweep reads the oldest events (headers
 * only) up to the horizon `now - maxAge + 3 × interval` — everything that may expire before the sweep
 * after next — and makes sure each of their subjects has a snapshot at or past its last such event, so
 * an actor whose early events left the log answers exactly as before. Each host covers the subjects of
 * the partitions it owns; the scan starts over from the stream's first event whenever it gains one.
 */
export class RetentionSweeper {
  private readonly log = new Logger('retention');
  /** Live counters. */
  readonly stats: SweepStats = { sweeps: 0, snapshots: 0, failures: 0 };
  private readonly intervalMs: number;
  private cursor = 0;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly events: EventLog,
    private readonly store: SnapshotStore,
    private readonly targets: SweepTargets,
    private readonly settings: RetentionSweeperSettings,
  ) {
    this.intervalMs = sweepInterval(settings.maxAgeMs, settings.everyMs);
  }

  /** Sweeps now and then every interval. */
  start(): void {
    this.log.log(
      `events expire after ${this.settings.maxAgeMs} ms: keeping snapshots ahead of them, sweeping every ${this.intervalMs} ms`,
    );
    const tick = () => {
      this.timer = setTimeout(() => void this.sweep().finally(tick), this.intervalMs);
    };
    void this.sweep().finally(tick);
  }

  /** Stops sweeping and waits for a sweep in progress. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** This host gained a partition: its subjects' old events were skipped so far, so scan from the start. */
  rescan(): void {
    this.cursor = 0;
  }

  /** One sweep (one at a time). */
  sweep(now = Date.now()): Promise<void> {
    this.running ??= this.sweepOnce(now)
      .catch((err: Error) => {
        this.stats.failures++;
        this.log.warn(`retention sweep failed, next one in ${this.intervalMs} ms: ${err.message}`);
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  private async sweepOnce(now: number): Promise<void> {
    const horizon = now - this.settings.maxAgeMs + 3 * this.intervalMs;
    const { first, last } = await this.events.bounds();
    let cursor = Math.max(this.cursor, first);
    while (cursor <= last) {
      const page = await this.events.readFrom(cursor, this.settings.pageSize ?? 2_000, { headersOnly: true });
      const { subjects, next, reachedHorizon } = expiringSubjects(page, horizon);
      const uncovered = await this.cover(subjects);
      // Never move past an uncovered event: the next sweep retries from there.
      cursor = uncovered ?? next ?? cursor;
      if (uncovered !== undefined || reachedHorizon || page.length === 0 || next === undefined) break;
    }
    this.cursor = cursor;
    this.stats.sweeps++;
  }

  /** Snapshots every owned subject whose snapshot is behind; answers the first position left uncovered. */
  private async cover(subjects: Map<string, number>): Promise<number | undefined> {
    const todo = [...subjects].filter(([s]) => parseEventSubject(s) && this.targets.owns(s));
    let uncovered: number | undefined;
    const lane = async () => {
      for (let item = todo.pop(); item; item = todo.pop()) {
        const [subject, seq] = item;
        try {
          if ((await this.store.position(subject)) >= seq) continue;
          await this.targets.snapshotNow(subject);
          if ((await this.store.position(subject)) < seq) throw new Error(`snapshot still before ${seq}`);
          this.stats.snapshots++;
        } catch (err) {
          this.stats.failures++;
          this.log.warn(`${subject} not covered before its events expire: ${(err as Error).message}`);
          uncovered = Math.min(uncovered ?? seq, seq);
        }
      }
    };
    await Promise.all(Array.from({ length: this.settings.concurrency ?? 8 }, lane));
    return uncovered;
  }
}
