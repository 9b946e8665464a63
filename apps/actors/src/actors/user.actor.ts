import {
  decodeEvent,
  encodeEvent,
  ErrorCode,
  ParleyError,
  type UserEvent,
  userEventSubject,
} from '@parley/contracts';
import {
  type CommandMeta,
  type ConversationMembership,
  decideUser,
  evolveUser,
  initialUserState,
  type ReadOutcome,
  type UserCommand,
  type UserState,
} from '@parley/domain';
import { ConcurrencyError, type EventLog } from '@parley/event-log';
import { type AppendPolicy, appendWithRetry } from './append-with-retry';

/** One user's actor: read positions folded from `im.evt.user.<id>`, MarkRead decided and appended. */
export class UserActor {
  private state?: UserState;
  private lastStreamSeq = 0;
  private stale = false;
  private readonly subject: string;

  constructor(
    readonly userId: string,
    private readonly log: EventLog,
    private readonly policy: AppendPolicy,
  ) {
    this.subject = userEventSubject(userId);
  }

  /**
   * Marks read up to `seq` (clamped, monotonic) given the conversation's answer about this user;
   * `notAfter` bounds when an append may start (the end of this host's lease on the user).
   */
  async markRead(
    command: UserCommand,
    conversation: ConversationMembership,
    meta: CommandMeta,
    notAfter?: () => number,
  ): Promise<ReadOutcome> {
    const state = await this.load();
    // The user's partition changed hands: fold what the previous owner wrote before deciding.
    if (this.stale) await this.catchUp();
    return appendWithRetry<ReadOutcome>(this.policy, async () => {
      const { decision, outcome } = decideUser(state, command, conversation, meta);
      if (decision.type !== 'append') return { done: outcome };
      try {
        const r = await this.log.append(this.subject, encodeEvent(decision.event), {
          expectedLastSubjectSeq: this.lastStreamSeq,
          msgId: meta.commandId,
          notAfter,
        });
        if (r.duplicate) {
          await this.catchUp();
          return { retry: true };
        }
        evolveUser(state, decision.event);
        this.lastStreamSeq = r.streamSeq;
        return { done: outcome };
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        await this.catchUp();
        return { retry: true, conflict: true };
      }
    });
  }

  /** Another host may have written since this actor last folded: check before the next decision. */
  invalidate(): void {
    this.stale = true;
  }

  private async load(): Promise<UserState> {
    if (!this.state) {
      this.state = initialUserState(this.userId);
      await this.catchUp();
    }
    return this.state;
  }

  private async catchUp(): Promise<void> {
    for await (const stored of this.log.replaySubject(this.subject, this.lastStreamSeq + 1)) {
      const event = decodeEvent(stored.data) as UserEvent;
      if (!('userId' in event) || event.userId !== this.userId) {
        throw new ParleyError(
          ErrorCode.UNAVAILABLE,
          `foreign event on ${this.subject} at ${stored.streamSeq}`,
        );
      }
      evolveUser(this.state!, event);
      this.lastStreamSeq = stored.streamSeq;
    }
    this.stale = false;
  }
}
