import { randomUUID } from 'node:crypto';
import {
  conversationActorKey,
  type DecodedCommand,
  ErrorCode,
  parseEventSubject,
  ParleyError,
  userActorKey,
} from '@parley/contracts';
import { type CommandMeta, type ConversationCommand, type ConversationRules } from '@parley/domain';
import { type EventLog } from '@parley/event-log';
import { ConversationActor } from './actors/conversation.actor';
import { type AppendPolicy } from './actors/append-with-retry';
import { type SnapshotSettings, Snapshotter } from './actors/snapshotter';
import { UserActor } from './actors/user.actor';
import { ActorRegistry, type ActorRegistryOptions } from './runtime/actor-registry';

/** Settings of the actor host. */
export interface ActorHostSettings {
  /** Virtual actor limits (per kind: conversations and users each get their own registry). */
  registry: ActorRegistryOptions;
  /** Conversation rules (limits, dedup and recall windows). */
  rules: ConversationRules;
  /** Attempts and jitter on expected-sequence conflicts. */
  append: Omit<AppendPolicy, 'onConflict'>;
  /** Snapshots (none: every activation replays its subject in full). */
  snapshots?: SnapshotSettings;
}

/** Counters of the actor host, for metrics and tests. */
export interface ActorHostStats {
  /** Commands answered with a result. */
  ok: number;
  /** Commands answered with an error. */
  rejected: number;
  /** Expected-sequence conflicts met (each one a reload and retry). */
  conflicts: number;
}

/**
 * Runs decoded commands on their actors and shapes the results of DESIGN §5: a conversation command
 * goes to its conversation's mailbox; a read asks the conversation (for membership, joinSeq, lastSeq)
 * and then the user's mailbox.
 */
export class CommandHandler {
  /** Live counters. */
  readonly stats: ActorHostStats = { ok: 0, rejected: 0, conflicts: 0 };
  /** Conversation actors. */
  readonly conversations: ActorRegistry<ConversationActor>;
  /** User actors. */
  readonly users: ActorRegistry<UserActor>;
  /** Loads and saves actor snapshots (undefined without snapshot settings). */
  readonly snapshots?: Snapshotter;

  constructor(log: EventLog, settings: ActorHostSettings) {
    const policy: AppendPolicy = { ...settings.append, onConflict: () => this.stats.conflicts++ };
    const snapshots = settings.snapshots && new Snapshotter(settings.snapshots, log);
    this.snapshots = snapshots;
    type Shell = { passivated(): void; weight(): number };
    const hooks = {
      onPassivate: (_key: string, actor: Shell) => actor.passivated(),
      weigh: (actor: Shell) => actor.weight(),
    };
    this.conversations = new ActorRegistry(
      (id) => new ConversationActor(id, log, settings.rules, policy, snapshots),
      settings.registry,
      hooks,
    );
    this.users = new ActorRegistry(
      (id) => new UserActor(id, log, policy, snapshots),
      settings.registry,
      hooks,
    );
  }

  /**
   * Executes one command; throws ParleyError for refusals, other errors for infrastructure trouble.
   * `notAfter` (epoch ms, read before each append attempt) ends this host's right to write for the
   * command's actor: the end of its partition lease.
   */
  async execute(
    command: DecodedCommand,
    commandId: string = randomUUID(),
    notAfter?: () => number,
  ): Promise<unknown> {
    const meta: CommandMeta = { now: Date.now(), commandId };
    if (command.target === 'user') {
      const { conversationId, seq } = command.request;
      const user = command.userId;
      // The conversation may live on another host: membership() reads it fresh from the log (a read).
      const membership = await this.conversations.tell(conversationId, (c) => c.membership(user));
      return this.users.tell(user, (u) =>
        u.markRead({ type: 'MarkRead', conversationId, seq }, membership, meta, notAfter),
      );
    }
    const cid = command.conversationId;
    const domain = toDomainCommand(command);
    const { decision, streamSeq } = await this.conversations.tell(cid, (c) =>
      c.execute(domain, meta, notAfter),
    );
    switch (domain.type) {
      case 'CreateGroup':
        return { conversationId: cid, streamSeq };
      case 'JoinGroup':
        return {
          joined:
            decision.type === 'append' && decision.event.type === 'MembersJoined'
              ? decision.event.data.userIds
              : [],
          streamSeq,
        };
      case 'SendMessage':
        if (decision.type === 'duplicate')
          return { conversationId: cid, ...decision.original, duplicate: true };
        if (decision.type === 'append' && decision.event.type === 'MessageSent') {
          return {
            conversationId: cid,
            seq: decision.event.data.seq,
            streamSeq,
            at: decision.event.at,
            duplicate: false,
          };
        }
        throw new ParleyError(ErrorCode.UNAVAILABLE, 'send produced no message');
      default:
        return { streamSeq };
    }
  }

  /** Activates the actor owning an event subject and saves its snapshot now (the retention sweeper). */
  async snapshotNow(subject: string): Promise<void> {
    const owner = parseEventSubject(subject);
    if (!owner) throw new Error(`${subject} is not an actor's subject`);
    if (owner.kind === 'conv') await this.conversations.tell(owner.id, (c) => c.snapshotNow());
    else await this.users.tell(owner.id, (u) => u.snapshotNow());
  }

  /** Marks the live actors `owns(actorKey)` selects as stale (their partition just came to this host). */
  invalidate(owns: (actorKey: string) => boolean): void {
    this.conversations.each((id, a) => owns(conversationActorKey(id)) && a.invalidate());
    this.users.each((id, a) => owns(userActorKey(id)) && a.invalidate());
  }

  /** Resolves once every mailbox is empty. */
  async idle(): Promise<void> {
    await Promise.all([this.conversations.idle(), this.users.idle()]);
  }

  /** Passivates every actor (their unsaved events go into snapshots) and waits for the saves. */
  async close(): Promise<void> {
    this.conversations.close();
    this.users.close();
    await this.snapshots?.idle();
  }
}

function toDomainCommand(c: Extract<DecodedCommand, { target: 'conv' }>): ConversationCommand {
  switch (c.op) {
    case 'create':
      return { type: 'CreateGroup', by: c.request.by, name: c.request.name, members: c.request.members };
    case 'join':
      return { type: 'JoinGroup', by: c.request.by, userIds: c.request.userIds };
    case 'leave':
      return { type: 'LeaveGroup', by: c.request.by, userId: c.request.userId };
    case 'dissolve':
      return { type: 'DissolveGroup', by: c.request.by };
    case 'send':
      return {
        type: 'SendMessage',
        from: c.request.from,
        clientMsgId: c.request.clientMsgId,
        kind: c.request.kind,
        body: c.request.body,
        mentions: c.request.mentions ?? [],
      };
    case 'recall':
      return { type: 'RecallMessage', by: c.request.by, seq: c.request.seq };
    default: {
      const _exhaustive: never = c;
      return _exhaustive;
    }
  }
}
