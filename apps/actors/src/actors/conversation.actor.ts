import {
  type ConversationEvent,
  conversationEventSubject,
  isConversationEvent,
  type ParleyEvent,
} from '@parley/contracts';
import {
  approximateStateBytes,
  type CommandMeta,
  type ConversationCommand,
  type ConversationDecision,
  type ConversationMembership,
  type ConversationRules,
  type ConversationState,
  CONVERSATION_SNAPSHOT_VERSION,
  decideConversation,
  evolveConversation,
  initialConversationState,
  restoreConversation,
  snapshotConversation,
} from '@parley/domain';
import { type EventLog } from '@parley/event-log';
import { type AppendPolicy } from './append-with-retry';
import { type Snapshotter } from './snapshotter';
import { SubjectActor } from './subject-actor';

/** The outcome of a command on a conversation. */
export interface ConversationOutcome {
  /** What the decider concluded. */
  decision: ConversationDecision;
  /** Where the appended event was stored, or the subject's last event when nothing was appended. */
  streamSeq: number;
}

/**
 * One conversation's actor: state folded from `im.evt.conv.<id>`, commands decided against it and
 * appended with the expected-last-subject-sequence guard; a conflict means another host wrote first,
 * so it catches up from the log and decides again.
 */
export class ConversationActor extends SubjectActor<ConversationState, ConversationEvent> {
  constructor(
    readonly conversationId: string,
    log: EventLog,
    private readonly rules: ConversationRules,
    policy: AppendPolicy,
    snapshots?: Snapshotter,
  ) {
    super(conversationEventSubject(conversationId), log, policy, snapshots);
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
    const landed = await this.decideAndAppend<ConversationDecision>((state) => {
      const decision = decideConversation(state, command, meta, this.rules);
      if (decision.type !== 'append') return { done: decision };
      const msgId =
        command.type === 'SendMessage'
          ? `send:${this.conversationId}:${command.from}:${command.clientMsgId}`
          : `${meta.commandId}`;
      return { event: decision.event, msgId, after: () => decision };
    }, notAfter);
    return { decision: landed.value, streamSeq: landed.streamSeq };
  }

  /** What a user actor needs to decide a MarkRead, fresh from the log. */
  async membership(userId: string): Promise<ConversationMembership> {
    const s = await this.fresh();
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

  protected initialState(): ConversationState {
    return initialConversationState(this.conversationId);
  }

  protected owns(event: ParleyEvent): event is ConversationEvent {
    return isConversationEvent(event) && event.conversationId === this.conversationId;
  }

  protected evolve(state: ConversationState, event: ConversationEvent, streamSeq: number): void {
    evolveConversation(state, event, { streamSeq }, this.rules);
  }

  protected snapshotState(state: ConversationState): { v: number; state: unknown } {
    return { v: CONVERSATION_SNAPSHOT_VERSION, state: snapshotConversation(state) };
  }

  protected stateBytes(state: ConversationState): number {
    return approximateStateBytes(state);
  }

  protected restoreState(v: number, json: unknown): ConversationState {
    return restoreConversation(this.conversationId, v, json);
  }
}
