import { Injectable } from '@nestjs/common';
import {
  type ConversationOp,
  conversationCommandSubject,
  decodeReply,
  encodeJson,
  ErrorCode,
  ParleyError,
  userCommandSubject,
} from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import { NatsClient } from '@parley/event-log';
import { ErrorCode as NatsErrorCode } from 'nats';
import { GatewayMetrics } from '../ops/gateway-metrics';

/**
 * Sends commands to the actor hosts over core NATS request/reply (DESIGN §5) with a timeout. A reply
 * with `ok:false` becomes the ParleyError it names; no responders or no answer in time is UNAVAILABLE.
 */
@Injectable()
export class ActorClient {
  private readonly timeoutMs: number;

  constructor(
    private readonly nats: NatsClient,
    private readonly metrics: GatewayMetrics,
    config: ParleyConfig,
  ) {
    this.timeoutMs = config.get('IM_COMMAND_TIMEOUT_MS');
  }

  /** A command to a conversation actor. */
  conversation<T>(cid: string, op: ConversationOp, request: object): Promise<T> {
    return this.request<T>(conversationCommandSubject(cid, op), op, request);
  }

  /** A `read` command to a user actor. */
  userRead<T>(userId: string, request: object): Promise<T> {
    return this.request<T>(userCommandSubject(userId, 'read'), 'read', request);
  }

  private async request<T>(subject: string, op: string, request: object): Promise<T> {
    let data: Uint8Array;
    try {
      data = (await this.nats.nc.request(subject, encodeJson(request), { timeout: this.timeoutMs })).data;
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.metrics.commands.inc({ op, outcome: 'UNAVAILABLE' });
      if (code === NatsErrorCode.NoResponders) {
        throw new ParleyError(ErrorCode.UNAVAILABLE, 'no actor host is available, retry later');
      }
      if (code === NatsErrorCode.Timeout) {
        throw new ParleyError(
          ErrorCode.UNAVAILABLE,
          `no answer from the actor host within ${this.timeoutMs} ms`,
        );
      }
      throw new ParleyError(ErrorCode.UNAVAILABLE, `messaging unavailable: ${(err as Error).message}`);
    }
    const reply = decodeReply<T>(data);
    this.metrics.commands.inc({ op, outcome: reply.ok ? 'ok' : reply.error.code });
    if (!reply.ok) throw new ParleyError(reply.error.code, reply.error.message);
    return reply.result;
  }
}
