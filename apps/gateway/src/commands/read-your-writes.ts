import { Injectable } from '@nestjs/common';
import { ReadModel } from '@parley/read-model';

const MAX_USERS = 100_000;

/**
 * Read-your-writes (DESIGN §7): remembers the stream seq of each user's latest write through this
 * gateway, and makes that user's next reads wait (bounded) until both projections passed it. A wait
 * that timed out is not repeated: a stalled projector slows one read per write, not every read.
 */
@Injectable()
export class ReadYourWrites {
  private readonly pending = new Map<string, number>();

  constructor(private readonly readModel: ReadModel) {}

  /** Records that `userId` wrote at `streamSeq`. */
  note(userId: string, streamSeq: number): void {
    const known = this.pending.get(userId) ?? 0;
    if (streamSeq <= known) return;
    this.pending.delete(userId);
    this.pending.set(userId, streamSeq);
    if (this.pending.size > MAX_USERS) this.pending.delete(this.pending.keys().next().value as string);
  }

  /** Waits until the projections show the user's own last write (no-op when there is none pending). */
  async settle(userId: string): Promise<void> {
    const seq = this.pending.get(userId);
    if (seq === undefined) return;
    await this.readModel.waitForProjections(seq);
    if (this.pending.get(userId) === seq) this.pending.delete(userId);
  }
}
