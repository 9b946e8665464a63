import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { type JetStreamManager, type NatsConnection } from 'nats';
import { connectToNats } from './connection';
import { retryTransient } from './retry';
import { ensureStreams, expectedSequenceUnsafe, type StreamSettings } from './streams';
import { settlesWithin } from './timing';

/** Longest a shutdown drain may take before the connection is simply closed. */
const DRAIN_TIMEOUT_MS = 10_000;

/** The app's one NATS connection, as a Nest provider: connected at boot, drained at shutdown. */
@Injectable()
export class NatsClient implements OnApplicationShutdown {
  private readonly log = new Logger('nats');
  private connection?: NatsConnection;
  private manager?: JetStreamManager;

  /** The connection (available once the module initialised). */
  get nc(): NatsConnection {
    if (!this.connection) throw new Error('NATS is not connected yet');
    return this.connection;
  }

  /** The JetStream manager of the connection. */
  get jsm(): JetStreamManager {
    if (!this.manager) throw new Error('NATS is not connected yet');
    return this.manager;
  }

  /** Connects (retrying for a while), then ensures the streams and warns about unsafe server versions. */
  async connect(servers: string, name: string, streams: StreamSettings): Promise<void> {
    this.connection = await connectToNats({ servers, name });
    // No API probe here: while a cluster elects its meta leader the probe times out and would crash the
    // boot; the calls below retry transient errors instead.
    this.manager = await this.connection.jetstreamManager({ checkAPI: false });
    const version = this.connection.info?.version ?? '0.0.0';
    if (expectedSequenceUnsafe(version, streams.replicas)) {
      this.log.warn(
        `nats-server ${version} with ${streams.replicas} replicas: the expected-sequence check is not safe against ` +
          'concurrent writers before 2.9.21; correctness relies on partition ownership (DESIGN §9)',
      );
    }
    const jsm = this.manager;
    try {
      for (const r of await retryTransient(
        'ensuring the streams',
        () => ensureStreams(jsm, streams),
        this.log,
      )) {
        if (r.action !== 'unchanged')
          this.log.log(`stream ${r.name}: ${r.action} ${r.differences.join('; ')}`);
      }
    } catch (err) {
      // A boot that fails here must not leave the connection open (it would keep the process alive).
      await this.connection.close().catch(() => undefined);
      throw err;
    }
  }

  /**
   * Drains on shutdown: in-flight messages are delivered and acks flushed before the socket closes.
   * Bounded: a drain the server never completes ends in a plain close.
   */
  async onApplicationShutdown(): Promise<void> {
    const nc = this.connection;
    if (!nc || nc.isClosed()) return;
    const drained = await settlesWithin(
      nc.drain().catch(() => undefined),
      DRAIN_TIMEOUT_MS,
    );
    if (!drained) {
      this.log.warn(`drain did not finish within ${DRAIN_TIMEOUT_MS} ms; closing`);
      await nc.close().catch(() => undefined);
    }
  }
}
