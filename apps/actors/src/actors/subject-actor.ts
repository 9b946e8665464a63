import { decodeEvent, encodeEvent, ErrorCode, type ParleyEvent, ParleyError } from '@parley/contracts';
import { ConcurrencyError, type EventLog, type Snapshot } from '@parley/event-log';
import { type AppendPolicy, appendWithRetry } from './append-with-retry';
import { type Snapshotter } from './snapshotter';

/** What one attempt decided: nothing to write (a final answer), or one event to append. */
export type Decided<E, T> = { done: T } | { event: E; msgId: string; after: (streamSeq: number) => T };

/** A decision's answer and where it landed: the appended event, or the subject's last event for a no-op. */
export interface Landed<T> {
  /** The answer. */
  value: T;
  /** Stream seq of the appended event, or of the subject's last event when nothing was appended. */
  streamSeq: number;
}

/**
 * The shell every actor shares: state folded from its own subject, and decisions appended with the
 * expected-last-subject-sequence guard. A conflict means another writer got there first, and a
 * duplicate Nats-Msg-Id means the log already holds the event: either way the actor catches up and
 * decides again (bounded by the policy).
 *
 * Activation starts from the subject's snapshot when one can be trusted and folds only the tail after
 * it; every `every` folded events, and when passivated, the actor asks for a snapshot in the background.
 */
export abstract class SubjectActor<S, E extends ParleyEvent> {
  private state?: S;
  private lastStreamSeq = 0;
  /**
   * The subject's last position as the server holds it: lastStreamSeq, except when log retention expired
   * every event of the subject (the state then comes from a snapshot and the server holds none: 0).
   */
  private expectedLast = 0;
  private stale = false;
  /** Events folded since the last snapshot (or since an empty start). */
  private sinceSnapshot = 0;

  protected constructor(
    private readonly subject: string,
    private readonly log: EventLog,
    private readonly policy: AppendPolicy,
    private readonly snapshots?: Snapshotter,
  ) {}

  /** The state before the first event. */
  protected abstract initialState(): S;
  /** True when a stored event belongs to this actor (anything else on its subject is corruption). */
  protected abstract owns(event: ParleyEvent): event is E;
  /** Folds one event into the state. */
  protected abstract evolve(state: S, event: E, streamSeq: number): void;
  /** The state's snapshot JSON and its version. */
  protected abstract snapshotState(state: S): { v: number; state: unknown };
  /** The state from snapshot JSON; throws when the JSON does not fit its version. */
  protected abstract restoreState(v: number, json: unknown): S;
  /** Approximate bytes the state holds (the host's memory budget). */
  protected abstract stateBytes(state: S): number;

  /** Approximate bytes this actor holds (0 before activation). */
  weight(): number {
    return this.state ? this.stateBytes(this.state) : 0;
  }

  /**
   * Another host may have written since this actor last folded (its partition changed hands): the next
   * command catches up first, instead of meeting a conflict.
   */
  invalidate(): void {
    this.stale = true;
  }

  /** The folded state: replayed on first use, caught up when another host may have written. */
  protected async current(): Promise<S> {
    if (!this.state) {
      await this.activate();
    } else if (this.stale) {
      await this.catchUp();
    }
    return this.state!;
  }

  /**
   * Called when the registry drops this actor: a tail of at least a tenth of `every` events goes into a
   * snapshot (a shorter one replays in about a millisecond, not worth a write per idle actor).
   */
  passivated(): void {
    const every = this.snapshots?.every ?? 0;
    if (this.state && every > 0 && this.sinceSnapshot >= Math.max(1, Math.ceil(every / 10))) {
      this.sinceSnapshot = 0;
      this.snapshots!.request(this.subject, () => this.snapshot());
    }
  }

  /** Saves a snapshot of the current state now (the retention sweeper); answers whether one was written. */
  async snapshotNow(): Promise<boolean> {
    await this.current();
    if (!this.snapshots || this.lastStreamSeq === 0) return false;
    this.sinceSnapshot = 0;
    return this.snapshots.saveNow(this.subject, this.snapshot());
  }

  private snapshot(): Snapshot {
    const { v, state } = this.snapshotState(this.state!);
    return { v, streamSeq: this.lastStreamSeq, state };
  }

  /**
   * Recovery: the snapshot and the subject's last event are read together; the trusted snapshot (if any)
   * is restored, then only a tail after it is folded (none when the snapshot ends at the last event, or
   * the subject is empty: a new conversation costs the two reads, in parallel).
   */
  private async activate(): Promise<void> {
    const [snapshot, last] = await Promise.all([
      this.snapshots?.read(this.subject),
      this.log.readLast(this.subject),
    ]);
    const trusted =
      snapshot &&
      (await this.snapshots!.trust(this.subject, snapshot, last, (v, j) => this.restoreState(v, j)));
    if (trusted) {
      this.state = trusted.state;
      this.lastStreamSeq = trusted.streamSeq;
      this.expectedLast = trusted.expired ? 0 : trusted.streamSeq;
    }
    this.state ??= this.initialState();
    if (last && last.streamSeq > this.lastStreamSeq) await this.catchUp();
  }

  /** Counts folded events and asks for a background snapshot every `every` of them. */
  private folded(n: number): void {
    this.sinceSnapshot += n;
    const every = this.snapshots?.every ?? 0;
    if (every > 0 && this.sinceSnapshot >= every) {
      this.sinceSnapshot = 0;
      this.snapshots!.request(this.subject, () => this.snapshot());
    }
  }

  /** The state, fresh from the log: a loaded actor folds what other hosts appended since. */
  protected async fresh(): Promise<S> {
    if (this.state) await this.catchUp();
    return this.current();
  }

  /** Decides against the state and appends what was decided, retrying after conflicts and duplicates. */
  protected async decideAndAppend<T>(
    decide: (state: S) => Decided<E, T>,
    notAfter?: () => number,
  ): Promise<Landed<T>> {
    const state = await this.current();
    return appendWithRetry<Landed<T>>(this.policy, async () => {
      const decided = decide(state);
      if ('done' in decided) return { done: { value: decided.done, streamSeq: this.lastStreamSeq } };
      try {
        const r = await this.log.append(this.subject, encodeEvent(decided.event), {
          expectedLastSubjectSeq: this.expectedLast,
          msgId: decided.msgId,
          notAfter,
        });
        if (r.duplicate) {
          // The log already holds an event with this id: catch up and decide again from the truth.
          await this.catchUp();
          return { retry: true };
        }
        this.evolve(state, decided.event, r.streamSeq);
        this.lastStreamSeq = r.streamSeq;
        this.expectedLast = r.streamSeq;
        this.folded(1);
        return { done: { value: decided.after(r.streamSeq), streamSeq: r.streamSeq } };
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        // Nothing new to fold means the subject's events may all have expired since: ask the log.
        if ((await this.catchUp()) === 0) {
          this.expectedLast = (await this.log.readLast(this.subject))?.streamSeq ?? 0;
        }
        return { retry: true, conflict: true };
      }
    });
  }

  /**
   * Folds every event after the last one seen. Costs one direct get when nothing is new
   * (replaySubject reads the subject's last position first).
   */
  private async catchUp(): Promise<number> {
    let n = 0;
    for await (const stored of this.log.replaySubject(this.subject, this.lastStreamSeq + 1)) {
      const event = decodeEvent(stored.data);
      if (!this.owns(event)) {
        throw new ParleyError(
          ErrorCode.UNAVAILABLE,
          `foreign event on ${this.subject} at ${stored.streamSeq}`,
        );
      }
      this.evolve(this.state!, event, stored.streamSeq);
      this.lastStreamSeq = stored.streamSeq;
      this.expectedLast = stored.streamSeq;
      n++;
    }
    this.stale = false;
    if (n > 0) this.folded(n);
    return n;
  }
}
