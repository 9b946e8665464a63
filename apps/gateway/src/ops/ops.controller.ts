import { Controller, Get, Header, Res } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { NatsClient, settlesWithin } from '@parley/event-log';
import { ParleyDatabase, ParleyRedis } from '@parley/read-model';
import { type Response } from 'express';
import { Public } from '../auth/auth.guard';
import { GatewayMetrics } from './gateway-metrics';

const CHECK_TIMEOUT_MS = 2_000;

/** Resolves true when `check` succeeds within the bound, false otherwise. */
async function passes(check: () => Promise<unknown>): Promise<boolean> {
  try {
    return await settlesWithin(check(), CHECK_TIMEOUT_MS);
  } catch {
    return false;
  }
}

/** Liveness, readiness and Prometheus metrics. */
@ApiTags('operations')
@Public()
@Controller()
export class OpsController {
  constructor(
    private readonly nats: NatsClient,
    private readonly db: ParleyDatabase,
    private readonly redis: ParleyRedis,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** The process is up. */
  @Get('health/live')
  @ApiOkResponse({ description: '`{"status":"ok"}`' })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** NATS, MySQL and Redis each answer; 503 naming the ones that do not. */
  @Get('health/ready')
  @ApiOkResponse({ description: '`{"status":"ok","nats":true,"mysql":true,"redis":true}`; 503 otherwise' })
  async ready(@Res({ passthrough: true }) res: Response) {
    const [nats, mysql, redis] = await Promise.all([
      passes(() => this.nats.nc.flush()),
      passes(() => this.db.dataSource.query('SELECT 1')),
      passes(() => this.redis.client.ping()),
    ]);
    const ok = nats && mysql && redis;
    res.status(ok ? 200 : 503);
    return { status: ok ? 'ok' : 'unavailable', nats, mysql, redis };
  }

  /** Prometheus text format. */
  @Get('metrics')
  @ApiExcludeEndpoint()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
