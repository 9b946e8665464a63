import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  type BeforeApplicationShutdown,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import {
  ACTOR_QUEUE_GROUP,
  ACTOR_STATS_SUBJECT,
  COMMAND_SUBJECTS,
  type DecodedCommand,
  decodeCommand,
  encodeJson,
  encodeReply,
  ErrorCode,
  errorReply,
  IM_COMMAND_ID_HEADER,
  IM_REPLY_TO_HEADER,
  conversationActorKey,
  INGRESS_SUBJECTS,
  isParleyError,
  okReply,
  parseEventSubject,
  partitionOf,
  type Reply,
  userActorKey,
} from '@parley/contracts';
import { ParleyConfig } from '@parley/config';
import {
  ConsumerLoop,
  EventLog,
  expectedSequenceUnsafe,
  INGRESS_STREAM,
  LogUnavailableError,
  NatsClient,
  settlesWithin,
  SnapshotStore,
} from '@parley/event-log';
import { headers, type JsMsg, type Msg, type Subscription } from 'nats';
import { RetentionSweeper } from './actors/retention-sweeper';
import { CommandHandler } from './command-handler';
import { PartitionLeases } from './placement/partition-leases';
import { MemoryBudget } from './runtime/actor-registry';
import { PartitionRouter } from './placement/partition-router';
import { isInfrastructureError, replyForError } from './replies';

/**
 * The actor host's NATS shell: commands on core NATS request/reply (`im.cmd.>`, queue group
 * im-actors) and durable commands on IM_INGRESS (`im.in.>`, acked after the event is appended,
 * answered on Im-Reply-To). Malformed input gets an error reply and never reaches an actor.
 */
/** Longest one shutdown step may take (a lease drain needs up to 2/3 of the lease ttl). */
const SHUTDOWN_STEP_MS = 15_000;

@Injectable()
export class ActorHostService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly log = new Logger('actor-host');
  /** The command handler and its actors. */
  readonly handler: CommandHandler;
  private sub?: Subscription;
  private statsSub?: Subscription;
  private ingress?: ConsumerLoop<DecodedCommand>;
  private pending = 0;
  private readonly maxPending: number;
  private readonly limits: { maxBodyBytes: number };
  private readonly placement?: {
    partitions: number;
    ttlMs: number;
    hostId: string;
    replicas: number;
    routeTimeoutMs: number;
  };
  /** Partition leases (undefined with IM_PARTITIONING=off). */
  leases?: PartitionLeases;
  /** Routes commands to their partition's owner (undefined with IM_PARTITIONING=off). */
  router?: PartitionRouter;
  /** Keeps snapshots ahead of expiring events (only with IM_EVENTS_MAX_AGE_MS > 0). */
  sweeper?: RetentionSweeper;

  constructor(
    private readonly nats: NatsClient,
    eventLog: EventLog,
    config: ParleyConfig,
    snapshots: SnapshotStore,
  ) {
    this.maxPending = config.get('IM_ACTORS_MAX_PENDING');
    this.limits = { maxBodyBytes: config.get('IM_MAX_BODY_BYTES') };
    this.handler = new CommandHandler(eventLog, {
      registry: {
        maxLiveActors: config.get('IM_ACTORS_MAX_LIVE'),
        idleMs: config.get('IM_ACTORS_IDLE_MS'),
        maxConcurrent: config.get('IM_ACTORS_MAX_CONCURRENT'),
        memory: new MemoryBudget(config.get('IM_ACTORS_MAX_MEMORY_MB') * 2 ** 20),
      },
      rules: config.conversationRules(),
      append: { maxAttempts: config.get('IM_APPEND_MAX_ATTEMPTS'), maxJitterMs: 5 },
      snapshots: { store: snapshots, every: config.get('IM_SNAPSHOT_EVERY') },
    });
    const maxAgeMs = config.get('IM_EVENTS_MAX_AGE_MS');
    if (maxAgeMs > 0) {
      this.sweeper = new RetentionSweeper(
        eventLog,
        snapshots,
        { owns: (subject) => this.ownsSubject(subject), snapshotNow: (s) => this.handler.snapshotNow(s) },
        { maxAgeMs, everyMs: config.get('IM_SNAPSHOT_SWEEP_MS') },
      );
    }
    if (config.get('IM_PARTITIONING') === 'on') {
      this.placement = {
        partitions: config.get('IM_PARTITIONS'),
        ttlMs: config.get('IM_LEASE_TTL_MS'),
        hostId:
          config.get('IM_HOST_ID') ||
          `${hostname().replace(/[^A-Za-z0-9_-]/g, '_')}-${randomBytes(3).toString('hex')}`,
        replicas: config.get('IM_STREAM_REPLICAS'),
        routeTimeoutMs: config.get('IM_ROUTE_TIMEOUT_MS'),
      };
    }
  }

  /** Subscribes to commands and starts the ingress consumer. */
  async onApplicationBootstrap(): Promise<void> {
    const nc = this.nats.nc;
    if (this.placement) await this.startPlacement(this.placement);
    this.sweeper?.start();
    this.sub = nc.subscribe(COMMAND_SUBJECTS, {
      queue: ACTOR_QUEUE_GROUP,
      callback: (_e, m) => void this.onRequest(m),
    });
    // Every host answers (no queue group), so a scatter-gather request sums live actors across hosts.
    this.statsSub = nc.subscribe(ACTOR_STATS_SUBJECT, {
      callback: (_e, m) => m.respond(encodeJson(this.liveStats())),
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

  /** Leases first (a lone host holds every partition after its first round), then the router. */
  private async startPlacement(p: NonNullable<ActorHostService['placement']>): Promise<void> {
    const nc = this.nats.nc;
    const version = nc.info?.version ?? '0.0.0';
    const owns = (partition: number) => (key: string) => partitionOf(key, p.partitions) === partition;
    this.leases = new PartitionLeases(
      nc,
      { ...p, casSafe: !expectedSequenceUnsafe(version, p.replicas) },
      {
        onServe: (partition) => {
          this.handler.invalidate(owns(partition));
          this.sweeper?.rescan();
          this.router?.serve(partition);
        },
        onStop: (partition) => this.router?.unserve(partition),
      },
    );
    this.router = new PartitionRouter(
      nc,
      this.leases,
      { partitions: p.partitions, routeTimeoutMs: p.routeTimeoutMs, limits: this.limits },
      (command, commandId, notAfter) => this.handler.execute(command, commandId, notAfter),
    );
    // The router exists before the first round, so each partition won is served as onServe reports it.
    await this.leases.start();
    this.log.log(
      `host ${p.hostId}: ${p.partitions} partitions, lease ttl ${p.ttlMs} ms, ` +
        `serving ${this.leases.owned().length} after the first round`,
    );
  }

  /** Stops taking commands, lets every mailbox finish, then the NATS connection drains. */
  async beforeApplicationShutdown(): Promise<void> {
    await this.shutdownStep('stopping the retention sweeper', async () => this.sweeper?.stop());
    await this.shutdownStep('draining the command subscription', async () =>
      this.sub?.drain().catch(() => undefined),
    );
    this.statsSub?.unsubscribe();
    await this.shutdownStep('stopping the ingress consumer', async () => this.ingress?.stop());
    // Hands every partition to another host once its commands finished, then stops forwarding.
    await this.shutdownStep('handing the partitions over', async () => this.leases?.stop());
    this.router?.close();
    const idle = await this.shutdownStep('finishing the mailboxes', () => this.handler.idle());
    await this.shutdownStep('saving snapshots of the live actors', () => this.handler.close());
    this.log.log(idle ? 'actor host stopped: mailboxes empty' : 'actor host stopped');
  }

  /**
   * One step of the shutdown, bounded: a step still running after SHUTDOWN_STEP_MS is logged and left
   * behind, so that a stuck step can neither hang the process nor hide which step it was.
   */
  private async shutdownStep(what: string, run: () => Promise<unknown>): Promise<boolean> {
    const finished = await settlesWithin(
      run().catch((err: Error) => this.log.warn(`shutdown: ${what} failed: ${err.message}`)),
      SHUTDOWN_STEP_MS,
    );
    if (!finished) this.log.warn(`shutdown: ${what} still running after ${SHUTDOWN_STEP_MS} ms; going on`);
    return finished;
  }

  /** True when this host serves the actor of an event subject (every subject without partitioning). */
  private ownsSubject(subject: string): boolean {
    if (!this.leases || !this.placement) return true;
    const owner = parseEventSubject(subject);
    if (!owner) return false;
    const key = owner.kind === 'conv' ? conversationActorKey(owner.id) : userActorKey(owner.id);
    return this.leases.canServe(partitionOf(key, this.placement.partitions));
  }

  /** Commands waiting or running. */
  get inFlight(): number {
    return this.pending;
  }

  /**
   * Live actors and commands in flight, as answered on `im.sys.actors.stats`; with partitioning also
   * the host id, the partitions it serves and its expected-sequence conflicts (zero in steady state).
   */
  liveStats(): {
    conversations: number;
    users: number;
    inFlight: number;
    hostId?: string;
    partitions?: number[];
    conflicts: number;
  } {
    return {
      conversations: this.handler.conversations.size,
      users: this.handler.users.size,
      inFlight: this.pending,
      hostId: this.leases?.hostId,
      partitions: this.leases?.owned(),
      conflicts: this.handler.stats.conflicts,
    };
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
      reply = this.router
        ? await this.router.route(command, commandTail(m.subject), m.data)
        : okReply(await this.handler.execute(command));
      if (reply.ok) this.handler.stats.ok++;
      else this.handler.stats.rejected++;
    } catch (err) {
      reply = replyForError(err);
      this.handler.stats.rejected++;
      if (!isParleyError(err) && !isInfrastructureError(err))
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
      if (this.router) {
        const reply = await this.router.route(command, commandTail(m.subject), m.data, commandId);
        // The owner could not reach the log: leave it in IM_INGRESS and try again later.
        if (!reply.ok && reply.error.code === ErrorCode.UNAVAILABLE)
          throw new LogUnavailableError(`partition owner: ${reply.error.message}`);
        if (reply.ok) this.handler.stats.ok++;
        else this.handler.stats.rejected++;
        this.replyTo(m, reply);
        return;
      }
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

/** `conv.g:team.send` of `im.cmd.conv.g:team.send` or `im.in.conv.g:team.send`. */
function commandTail(subject: string): string {
  return subject.split('.').slice(2).join('.');
}

/** The id an ingress command is known by: its Nats-Msg-Id, else its position in IM_INGRESS. */
function ingressCommandId(m: JsMsg): string {
  return m.headers?.get('Nats-Msg-Id') || `ingress:${m.seq}`;
}
