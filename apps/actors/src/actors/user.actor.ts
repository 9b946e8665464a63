import { type ParleyEvent, type UserEvent, userEventSubject } from '@parley/contracts';
import {
  type CommandMeta,
  type ConversationMembership,
  decideUser,
  evolveUser,
  initialUserState,
  type ReadOutcome,
  restoreUser,
  snapshotUser,
  USER_SNAPSHOT_VERSION,
  type UserCommand,
  type UserState,
} from '@parley/domain';
import { type EventLog } from '@parley/event-log';
import { type AppendPolicy } from './append-with-retry';
import { type Snapshotter } from './snapshotter';
import { SubjectActor } from './subject-actor';

/** One user's actor: read positions folded from `im.evt.user.<id>`, MarkRead decided and appended. */
export class UserActor extends SubjectActor<UserState, UserEvent> {
  constructor(
    readonly userId: string,
    log: EventLog,
    policy: AppendPolicy,
    snapshots?: Snapshotter,
  ) {
    super(userEventSubject(userId), log, policy, snapshots);
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
  ): Promise<ReadOutcome & { streamSeq: number }> {
    const landed = await this.decideAndAppend<ReadOutcome>((state) => {
      const { decision, outcome } = decideUser(state, command, conversation, meta);
      if (decision.type !== 'append') return { done: outcome };
      return { event: decision.event, msgId: meta.commandId, after: () => outcome };
    }, notAfter);
    return { ...landed.value, streamSeq: landed.streamSeq };
  }

  protected initialState(): UserState {
    return initialUserState(this.userId);
  }

  protected owns(event: ParleyEvent): event is UserEvent {
    return event.type === 'ReadMarked' && event.userId === this.userId;
  }

  protected evolve(state: UserState, event: UserEvent): void {
    evolveUser(state, event);
  }

  protected snapshotState(state: UserState): { v: number; state: unknown } {
    return { v: USER_SNAPSHOT_VERSION, state: snapshotUser(state) };
  }

  /** About 100 bytes per conversation read position. */
  protected stateBytes(state: UserState): number {
    return 512 + state.readSeqs.size * 100;
  }

  protected restoreState(v: number, json: unknown): UserState {
    return restoreUser(this.userId, v, json);
  }
}
