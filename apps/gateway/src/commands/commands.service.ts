import { Injectable } from '@nestjs/common';
import {
  type CreateGroupResult,
  type EmptyResult,
  type JoinGroupResult,
  type MarkReadResult,
  type MessageKind,
  parseConversationId,
  type SendMessageResult,
} from '@parley/contracts';
import { LiveHub } from '../live/live-hub';
import { ActorClient } from './actor-client';
import { ReadYourWrites } from './read-your-writes';

/** The HTTP answer of a write that returns nothing (DESIGN §7: `{}`). */
type Empty = Record<string, never>;

/**
 * The commands the HTTP API sends, built with `by`/`from` = the authenticated user (never a value of
 * the request body). Each notes where the write landed (its reply's `streamSeq`) for read-your-writes,
 * and the ones that may add members make the connected ones interested first, so their sockets receive
 * the resulting events.
 */
@Injectable()
export class CommandsService {
  constructor(
    private readonly actors: ActorClient,
    private readonly ryw: ReadYourWrites,
    private readonly live: LiveHub,
  ) {}

  /** Creates a group owned by `by`. */
  async createGroup(by: string, cid: string, name: string, members: string[]): Promise<CreateGroupResult> {
    await this.live.prepare(cid, [by, ...members]);
    const r = await this.actors.conversation<CreateGroupResult>(cid, 'create', { by, name, members });
    this.ryw.note(by, r.streamSeq);
    return r;
  }

  /** Adds members (or the caller themself). */
  async join(by: string, cid: string, userIds: string[]): Promise<{ joined: string[] }> {
    await this.live.prepare(cid, userIds);
    const r = await this.actors.conversation<JoinGroupResult>(cid, 'join', { by, userIds });
    this.ryw.note(by, r.streamSeq);
    return { joined: r.joined };
  }

  /** Leaves (userId = by) or removes a member (by the owner). */
  async leave(by: string, cid: string, userId: string): Promise<Empty> {
    const r = await this.actors.conversation<EmptyResult>(cid, 'leave', { by, userId });
    this.ryw.note(by, r.streamSeq);
    return {};
  }

  /** Dissolves a group (the owner). */
  async dissolve(by: string, cid: string): Promise<Empty> {
    const r = await this.actors.conversation<EmptyResult>(cid, 'dissolve', { by });
    this.ryw.note(by, r.streamSeq);
    return {};
  }

  /** Sends a message from `from`. */
  async send(
    from: string,
    cid: string,
    m: { clientMsgId: string; kind: MessageKind; body: string; mentions?: string[] },
  ): Promise<SendMessageResult> {
    const parsed = parseConversationId(cid);
    // A direct chat comes to exist with its first message: both users become members then.
    if (parsed.kind === 'direct') await this.live.prepare(cid, parsed.users);
    const r = await this.actors.conversation<SendMessageResult>(cid, 'send', { from, ...m });
    this.ryw.note(from, r.streamSeq);
    return r;
  }

  /** Recalls message `seq`. */
  async recall(by: string, cid: string, seq: number): Promise<Empty> {
    const r = await this.actors.conversation<EmptyResult>(cid, 'recall', { by, seq });
    this.ryw.note(by, r.streamSeq);
    return {};
  }

  /** Marks `cid` read up to `seq` for `userId`. */
  async markRead(userId: string, cid: string, seq: number): Promise<Omit<MarkReadResult, 'streamSeq'>> {
    const { streamSeq, ...r } = await this.actors.userRead<MarkReadResult>(userId, {
      conversationId: cid,
      seq,
    });
    this.ryw.note(userId, streamSeq);
    return r;
  }

  /** Waits (bounded) until the caller's own writes are visible in the projections. */
  settle(userId: string): Promise<void> {
    return this.ryw.settle(userId);
  }
}
