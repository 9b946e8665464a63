import { Controller, Get } from '@nestjs/common';
import { NatsClient } from '@parley/event-log';

/** Liveness and readiness probes. */
@Controller('health')
export class HealthController {
  constructor(private readonly nats: NatsClient) {}

  /** The process is up. */
  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** NATS is connected (MySQL and Redis checks join when the gateway reads from them). */
  @Get('ready')
  ready(): { status: 'ok' | 'unavailable'; nats: boolean } {
    const nats = !this.nats.nc.isClosed();
    return { status: nats ? 'ok' : 'unavailable', nats };
  }
}
