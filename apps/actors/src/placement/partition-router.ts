import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import {
  commandSubjectOfTail,
  commandTail,
  conversationActorKey,
  type DecodedCommand,
  decodeCommand,
  encodeReply,
  IM_COMMAND_ID_HEADER,
  isParleyError,
  okReply,
  partitionCommandSubject,
  partitionOf,
  partitionSubjects,
  type Reply,
  userActorKey,
} from '@parley/contracts';
import { LogUnavailableError, ThrottledLog } from '@parley/event-log';
import { headers, type Msg, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { replyForError } from '../replies';
import { type PartitionLeases } from './partition-leases';

/** Header on an answer from a host that no longer serves the partition: the sender tries again. */
export const IM_PARTITION_MOVED_HEADER = 'Im-Partition-Moved';

/** Runs a command on this host under a partition's lease (the append must not start after `notAfter`). */
export type LocalExecutor = (
  command: DecodedCommand,
  commandId: string | undefined,
  notAfter: () => number,
) => Promise<unknown>;

/** Settings of {@link PartitionRouter}. */
export interface RouterSettings {
  /** Number of partitions. */
  partitions: number;
  /** How long a command may wait for its partition's owner (forwarding, handovers), in ms. */
  routeTimeoutMs: number;
  /** Request limits for decoding forwarded commands. */
  limits: { maxBodyBytes: number };
}

const dec = new TextDecoder();

/** The partition of a decoded command's actor. */
export function partitionOfCommand(command: DecodedCommand, partitions: number): number {
  const key =
    command.target === 'user' ? userActorKey(command.userId) : conversationActorKey(command.conversationId);
  return partitionOf(key, partitions);
}

/**
 * Sends each command to the host owning its partition: run here when this host holds the lease,
 * otherwise forwarded with request/reply to `im.part.<n>.<tail>`, which only the owner subscribes.
 * While a partition has no reachable owner (a handover, an expired lease) it retries briefly, then
 * gives up with UNAVAILABLE; it never runs a command for a partition it does not own.
 */
export class PartitionRouter {
  private readonly log = new Logger('router');
  private readonly warn = new ThrottledLog(this.log, 5_000);
  private readonly subs = new Map<number, Subscription>();
  /** Counters for tests and metrics. */
  readonly stats = { local: 0, forwarded: 0, retries: 0, served: 0, moved: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly leases: PartitionLeases,
    private readonly settings: RouterSettings,
    private readonly local: LocalExecutor,
  ) {}

  /**
   * Runs `command` (received on `im.cmd.<tail>` or `im.in.<tail>`) on its owner. Resolves with the
   * owner's reply; a failure run here is thrown as it is (a refusal or infrastructure trouble), and a
   * partition without a reachable owner throws LogUnavailableError after the route timeout.
   */
  async route(command: DecodedCommand, tail: string, data: Uint8Array, commandId?: string): Promise<Reply> {
    const p = partitionOfCommand(command, this.settings.partitions);
    const deadline = Date.now() + this.settings.routeTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      const leave = this.leases.enter(p);
      if (leave) {
        this.stats.local++;
        try {
          return okReply(await this.local(command, commandId, () => this.leases.notAfter(p)));
        } finally {
          leave();
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const h = headers();
        if (commandId) h.set(IM_COMMAND_ID_HEADER, commandId);
        const m = await this.nc.request(partitionCommandSubject(p, tail), data, {
          timeout: left,
          headers: h,
        });
        if (!m.headers?.get(IM_PARTITION_MOVED_HEADER)) {
          this.stats.forwarded++;
          return JSON.parse(dec.decode(m.data)) as Reply;
        }
      } catch (err) {
        const code = (err as NatsError).code;
        // No responders: nobody owns it right now (a handover or an expired lease). A timeout: give up.
        if (code !== '503') {
          if (code === 'TIMEOUT') break;
          throw err;
        }
      }
      this.stats.retries++;
      await sleep(Math.min(25 * 2 ** Math.min(attempt, 3), Math.max(1, deadline - Date.now())));
    }
    throw new LogUnavailableError(`partition ${p} has no reachable owner, try again`);
  }

  /** Starts taking forwarded commands of `partition` (called when the lease is gained). */
  serve(partition: number): void {
    if (this.subs.has(partition)) return;
    this.subs.set(
      partition,
      this.nc.subscribe(partitionSubjects(partition), {
        callback: (_e, m) => void this.onForwarded(partition, m),
      }),
    );
  }

  /** Stops taking forwarded commands of `partition` (called when the lease is lost or handed over). */
  unserve(partition: number): void {
    this.subs.get(partition)?.unsubscribe();
    this.subs.delete(partition);
  }

  /** Stops every partition subscription. */
  close(): void {
    for (const p of [...this.subs.keys()]) this.unserve(p);
  }

  private async onForwarded(p: number, m: Msg): Promise<void> {
    const leave = this.leases.enter(p);
    if (!leave) {
      // Lost or handed over since the sender looked: it retries and finds the new owner.
      this.stats.moved++;
      const h = headers();
      h.set(IM_PARTITION_MOVED_HEADER, '1');
      m.respond(new Uint8Array(0), { headers: h });
      return;
    }
    this.stats.served++;
    let reply: Reply;
    try {
      const command = decodeCommand(
        commandSubjectOfTail(commandTail(m.subject)),
        m.data,
        this.settings.limits,
      );
      const commandId = m.headers?.get(IM_COMMAND_ID_HEADER) || undefined;
      reply = okReply(await this.local(command, commandId, () => this.leases.notAfter(p)));
    } catch (err) {
      reply = replyForError(err);
      if (!isParleyError(err) && !(err instanceof LogUnavailableError))
        this.warn.warn('forwarded', `forwarded command on ${m.subject} failed: ${(err as Error).message}`);
    } finally {
      leave();
    }
    m.respond(encodeReply(reply));
  }
}
