import { Injectable, Logger } from '@nestjs/common';
import { ACTOR_STATS_SUBJECT, decodeJson } from '@parley/contracts';
import { EventLog, NatsClient } from '@parley/event-log';
import { PROJECTION_NAMES, ReadModel } from '@parley/read-model';
import { RequestStrategy } from 'nats';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The gateway's Prometheus metrics, on a registry of its own (several apps can share a process in
 * tests). Projection lag and live actors are measured when scraped, so they cost nothing in between.
 */
@Injectable()
export class GatewayMetrics {
  private readonly log = new Logger('metrics');
  /** The registry `/metrics` renders. */
  readonly registry = new Registry();
  /** HTTP requests by method, route pattern and status. */
  readonly requests = new Counter({
    name: 'parley_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  /** HTTP latency by method and route pattern. */
  readonly latency = new Histogram({
    name: 'parley_http_request_duration_seconds',
    help: 'HTTP request latency',
    labelNames: ['method', 'route'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  /** Commands sent to the actors by op and outcome (ok or the error code). */
  readonly commands = new Counter({
    name: 'parley_commands_total',
    help: 'Commands sent to the actor hosts by op and outcome',
    labelNames: ['op', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Open WebSocket connections. */
  readonly sockets = new Gauge({
    name: 'parley_ws_connections',
    help: 'Open WebSocket connections',
    registers: [this.registry],
  });
  /** Conversation and user subjects the gateway listens to for its connected users. */
  readonly feeds = new Gauge({
    name: 'parley_ws_subscriptions',
    help: 'Event subjects subscribed for connected users',
    registers: [this.registry],
  });
  /** Frames pushed to sockets, by type. */
  readonly frames = new Counter({
    name: 'parley_ws_frames_total',
    help: 'Frames pushed to WebSocket clients by type',
    labelNames: ['type'] as const,
    registers: [this.registry],
  });
  /** Sockets closed because their send buffer passed the bound. */
  readonly slowClients = new Counter({
    name: 'parley_ws_slow_disconnects_total',
    help: 'WebSocket clients disconnected for not reading fast enough',
    registers: [this.registry],
  });

  constructor(nats: NatsClient, eventLog: EventLog, readModel: ReadModel) {
    collectDefaultMetrics({ register: this.registry, prefix: 'parley_gateway_' });
    const log = this.log;
    new Gauge({
      name: 'parley_projection_lag',
      help: 'Events in IM_EVENTS not yet applied by each projection',
      labelNames: ['projection'] as const,
      registers: [this.registry],
      async collect() {
        try {
          const { last } = await eventLog.bounds();
          for (const p of PROJECTION_NAMES) {
            this.set({ projection: p }, Math.max(0, last - (await readModel.position(p))));
          }
        } catch (err) {
          log.warn(`projection lag unavailable: ${(err as Error).message}`);
        }
      },
    });
    new Gauge({
      name: 'parley_live_actors',
      help: 'Actors in memory across the actor hosts that answered, by kind',
      labelNames: ['kind'] as const,
      registers: [this.registry],
      async collect() {
        let conversations = 0;
        let users = 0;
        try {
          const replies = await nats.nc.requestMany(ACTOR_STATS_SUBJECT, undefined, {
            strategy: RequestStrategy.JitterTimer,
            jitter: 50,
            maxWait: 500,
          });
          for await (const m of replies) {
            const s = decodeJson(m.data) as { conversations?: number; users?: number };
            conversations += Number(s.conversations ?? 0);
            users += Number(s.users ?? 0);
          }
        } catch {
          // no actor host answered: report zero
        }
        this.set({ kind: 'conversation' }, conversations);
        this.set({ kind: 'user' }, users);
      },
    });
  }
}
