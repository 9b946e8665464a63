import {
  type ConversationEvent,
  conversationEventSubject,
  decodeEvent,
  encodeEvent,
  ErrorCode,
  ParleyError,
} from '@parley/contracts';
import {
  type CommandMeta,
  type ConversationCommand,
  type ConversationDecision,
  type ConversationMembership,
  type ConversationRules,
  type ConversationState,
  decideConversation,
  evolveConversation,
  initialConversationState,
} from '@parley/domain';
import { ConcurrencyError, type EventLog } from '@parley/event-log';
import { type AppendPolicy, appendWithRetry } from './append-with-retry';

/** The outcome of a command on a conversation. */
export interface ConversationOutcome {
  /** What the decider concluded. */
  decision: ConversationDecision;
  /** Where the appended event was stored (when one was). */
  streamSeq?: number;
}

/**
 * One conversation's actor: state folded from `im.evt.conv.<id>`, commands decided against it and
 * appended with the expected-last-subject-sequence guard; a conflict means another host wrote first,
 * so it catches up from the log and decides again.
 */
export class ConversationActor {
  private state?: ConversationState;
  private lastStreamSeq = 0;
  private stale = false;
  private readonly subject: string;

  constructor(
    readonly conversationId: string,
    private readonly log: EventLog,
    private readonly rules: ConversationRules,
    private readonly policy: AppendPolicy,
  ) {
    this.subject = conversationEventSubject(conversationId);
  }

  /**
   * Decides and appends one command; retries on conflicts (bounded), then answers CONFLICT.
   * `notAfter` bounds when an append may start (the end of this host's lease on the actor).
   */
  async execute(
    command: ConversationCommand,
    meta: CommandMeta,
    notAfter?: () => number,
  ): Promise<ConversationOutcome> {
    const state = await this.load();
    if (this.stale) await this.catchUp();
    return appendWithRetry<ConversationOutcome>(this.policy, async () => {
      const decision = decideConversation(state, command, meta, this.rules);
      if (decision.type !== 'append') return { done: { decision } };
      const msgId =
        command.type === 'SendMessage'
          ? `send:${this.conversationId}:${command.from}:${command.clientMsgId}`
          : `${meta.commandId}`;
      try {
        const r = await this.log.append(this.subject, encodeEvent(decision.event), {
          expectedLastSubjectSeq: this.lastStreamSeq,
          msgId,
          notAfter,
        });
        if (r.duplicate) {
          // The log already holds an event with this id: catch up and decide again from the truth.
          await this.catchUp();
          return { retry: true };
        }
        evolveConversation(state, decision.event, { streamSeq: r.streamSeq }, this.rules);
        this.lastStreamSeq = r.streamSeq;
        return { done: { decision, streamSeq: r.streamSeq } };
      } catch (err) {
        if (!(err instanceof ConcurrencyError)) throw err;
        await this.catchUp();
        return { retry: true, conflict: true };
      }
    });
  }

  /** What a user actor needs to decide a MarkRead, fresh from the log. */
  async membership(userId: string): Promise<ConversationMembership> {
    // A first load replays everything; a loaded actor folds what other hosts appended since.
    if (this.state) await this.catchUp();
    else await this.load();
    const s = this.state!;
    const member = s.members.get(userId);
    return {
      exists: s.exists,
      isMember: member !== undefined,
      joinSeq: member?.joinSeq ?? 0,
      lastSeq: s.lastSeq,
      ownLastSeq: member?.ownLastSeq ?? 0,
      dissolved: s.dissolved,
    };
  }

  /**
   * Another host may have written since this actor last folded (its partition changed hands): the next
   * command checks the subject's last position first, instead of meeting a conflict.
   */
  invalidate(): void {
    this.stale = true;
  }

  /** The folded state (loaded on first use). */
  async load(): Promise<ConversationState> {
    if (!this.state) {
      this.state = initialConversationState(this.conversationId);
      await this.catchUp();
    }
    return this.state;
  }

  /**
   * Folds every event after the last one seen. Costs one direct get when nothing is new
   * (replaySubject reads the subject's last position first).
   */
  private async catchUp(): Promise<void> {
    for await (const stored of this.log.replaySubject(this.subject, this.lastStreamSeq + 1)) {
      const event = decodeEvent(stored.data) as ConversationEvent;
      if (!('conversationId' in event) || event.conversationId !== this.conversationId) {
        throw new ParleyError(
          ErrorCode.UNAVAILABLE,
          `foreign event on ${this.subject} at ${stored.streamSeq}`,
        );
      }
      evolveConversation(this.state!, event, { streamSeq: stored.streamSeq }, this.rules);
      this.lastStreamSeq = stored.streamSeq;
    }
    this.stale = false;
  }
}
