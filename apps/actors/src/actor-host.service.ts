import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  ACTOR_QUEUE_GROUP,
  COMMAND_SUBJECTS,
  type DecodedCommand,
  decodeCommand,
  encodeReply,
  ErrorCode,
  errorReply,
  IM_COMMAND_ID_HEADER,
  IM_REPLY_TO_HEADER,
  INGRESS_SUBJECTS,
  isParleyError,
  okReply,
  type Reply,
} from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import {
  ConsumerLoop,
  EventLog,
  INGRESS_STREAM,
  isTransientNatsError,
  LogUnavailableError,
  NatsClient,
} from '@parley/event-log';
import { headers, type JsMsg, type Msg, type Subscription } from 'nats';
import { CommandHandler } from './command-handler';

/** The reply to a failed command: refusals keep their code, infrastructure trouble is UNAVAILABLE. */
export function replyForError(err: unknown): Reply {
  if (isParleyError(err)) return errorReply(err.code, err.message);
  if (err instanceof LogUnavailableError) return errorReply(ErrorCode.UNAVAILABLE, err.message);
  return errorReply(ErrorCode.UNAVAILABLE, 'internal error, try again');
}

/** True for failures worth retrying later (the log is unreachable), as opposed to refusals and bugs. */
export function isInfrastructureError(err: unknown): boolean {
  return err instanceof LogUnavailableError || isTransientNatsError(err);
}

/**
 * The actor host's NATS shell: commands on core NATS request/reply (`im.cmd.>`, queue group
 * im-actors) and durable commands on IM_INGRESS (`im.in.>`, acked after the event is appended,
 * answered on Im-Reply-To). Malformed input gets an error reply and never reaches an actor.
 */
@Injectable()
export class ActorHostService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('actor-host');
  /** The command handler and its actors. */
  readonly handler: CommandHandler;
  private sub?: Subscription;
  private ingress?: ConsumerLoop<DecodedCommand>;
  private pending = 0;
  private readonly maxPending: number;
  private readonly limits: { maxBodyBytes: number };

  constructor(
    private readonly nats: NatsClient,
    eventLog: EventLog,
    config: ParleyConfig,
  ) {
    this.maxPending = config.get('IM_ACTORS_MAX_PENDING');
    this.limits = { maxBodyBytes: config.get('IM_MAX_BODY_BYTES') };
    this.handler = new CommandHandler(eventLog, {
      registry: {
        maxLiveActors: config.get('IM_ACTORS_MAX_LIVE'),
        idleMs: config.get('IM_ACTORS_IDLE_MS'),
        maxConcurrent: config.get('IM_ACTORS_MAX_CONCURRENT'),
      },
      rules: {
        maxBodyBytes: config.get('IM_MAX_BODY_BYTES'),
        dedupWindowMs: config.get('IM_DEDUP_WINDOW_MS'),
        maxDedupEntries: config.get('IM_DEDUP_MAX_ENTRIES'),
        recallWindowMs: config.get('IM_RECALL_WINDOW_MS'),
      },
      append: { maxAttempts: config.get('IM_APPEND_MAX_ATTEMPTS'), maxJitterMs: 5 },
    });
  }

  /** Subscribes to commands and starts the ingress consumer. */
  async onApplicationBootstrap(): Promise<void> {
    const nc = this.nats.nc;
    this.sub = nc.subscribe(COMMAND_SUBJECTS, {
      queue: ACTOR_QUEUE_GROUP,
      callback: (_e, m) => void this.onRequest(m),
    });
    this.ingress = new ConsumerLoop<DecodedCommand>(nc, {
      stream: INGRESS_STREAM,
      durable: 'actors-ingress',
      filterSubject: INGRESS_SUBJECTS,
      decode: (m) => this.decodeIngress(m),
      handle: async (d) => this.onIngress(d.value, d.msg),
      isTransient: (err) => isInfrastructureError(err),
      concurrency: 256,
      batchSize: 256,
    });
    await this.ingress.start();
    this.log.log(`serving ${COMMAND_SUBJECTS} (queue ${ACTOR_QUEUE_GROUP}) and ${INGRESS_SUBJECTS}`);
  }

  /** Stops taking commands, lets every mailbox finish, then the NATS connection drains. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.sub?.drain().catch(() => undefined);
    await this.ingress?.stop();
    await this.handler.idle();
    this.handler.close();
    this.log.log('actor host stopped: mailboxes empty');
  }

  /** Commands waiting or running. */
  get inFlight(): number {
    return this.pending;
  }

  private async onRequest(m: Msg): Promise<void> {
    if (this.pending >= this.maxPending) {
      if (m.reply) m.respond(encodeReply(errorReply(ErrorCode.UNAVAILABLE, 'actor host overloaded, retry')));
      return;
    }
    this.pending++;
    let reply: Reply;
    try {
      const command = decodeCommand(m.subject, m.data, this.limits);
      reply = okReply(await this.handler.execute(command));
      this.handler.stats.ok++;
    } catch (err) {
      reply = replyForError(err);
      this.handler.stats.rejected++;
      if (!isParleyError(err))
        this.log.error(`command on ${m.subject} failed: ${(err as Error).stack ?? String(err)}`);
    } finally {
      this.pending--;
    }
    if (m.reply) m.respond(encodeReply(reply));
  }

  /** Malformed ingress commands are answered, then recorded as poison by the loop (never retried). */
  private decodeIngress(m: JsMsg): DecodedCommand {
    try {
      return decodeCommand(m.subject, m.data, this.limits);
    } catch (err) {
      this.replyTo(m, replyForError(err));
      throw err;
    }
  }

  private async onIngress(command: DecodedCommand, m: JsMsg): Promise<void> {
    const commandId = ingressCommandId(m);
    try {
      const result = await this.handler.execute(command, commandId);
      this.handler.stats.ok++;
      this.replyTo(m, okReply(result));
    } catch (err) {
      // A refusal is a final answer (ack); infrastructure trouble is thrown so the loop retries.
      if (!isParleyError(err)) throw err;
      this.handler.stats.rejected++;
      this.replyTo(m, replyForError(err));
    }
  }

  private replyTo(m: JsMsg, reply: Reply): void {
    const to = m.headers?.get(IM_REPLY_TO_HEADER);
    if (!to) return;
    const h = headers();
    h.set(IM_COMMAND_ID_HEADER, ingressCommandId(m));
    this.nats.nc.publish(to, encodeReply(reply), { headers: h });
  }
}

/** The id an ingress command is known by: its Nats-Msg-Id, else its position in IM_INGRESS. */
function ingressCommandId(m: JsMsg): string {
  return m.headers?.get('Nats-Msg-Id') || `ingress:${m.seq}`;
}
