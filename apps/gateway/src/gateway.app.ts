import { type NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { ParleyConfig } from '@parley/config';
import express, { type NextFunction, type Request, type Response } from 'express';
import { TokenService } from './auth/token.service';
import { toHttpError } from './common/http-errors';
import { requestContext } from './common/request-context';
import { LiveWsAdapter } from './live/live.adapter';
import { GatewayMetrics } from './ops/gateway-metrics';

/** Options every gateway app is created with (main and tests): our own JSON parser, no lingering sockets. */
export const GATEWAY_APP_OPTIONS = { bodyParser: false, forceCloseConnections: true } as const;

/**
 * Wires what lives outside Nest's module graph: request ids and access logs, the JSON body parser with
 * its size limit (malformed JSON 400, too large 413, both in the error format), the authenticated
 * WebSocket adapter, and OpenAPI at /docs.
 */
export function configureGateway(app: NestExpressApplication): NestExpressApplication {
  const config = app.get(ParleyConfig);
  const metrics = app.get(GatewayMetrics);
  app.use(
    requestContext(({ method, route, status, seconds }) => {
      metrics.requests.inc({ method, route, status: String(status) });
      metrics.latency.observe({ method, route }, seconds);
    }),
  );
  const json = express.json({ limit: config.get('IM_HTTP_MAX_BODY_BYTES'), strict: true });
  app.use((req: Request, res: Response, next: NextFunction) =>
    json(req, res, (err?: unknown) => {
      if (!err) return next();
      const { status, body } = toHttpError(err);
      res.status(status).json(body);
    }),
  );
  app.useWebSocketAdapter(
    new LiveWsAdapter(app, app.get(TokenService), Math.max(4096, config.get('IM_SIGNAL_MAX_BYTES') * 4)),
  );
  const doc = new DocumentBuilder()
    .setTitle('Parley gateway')
    .setDescription(
      'HTTP API of the Parley message core (DESIGN §7). Errors are `{"error":{"code","message"}}`. ' +
        'WebSocket `/v1/ws?token=<jwt>` pushes message, recall, read, member, signal and heartbeat frames.',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, doc), {
    jsonDocumentUrl: 'docs/json',
  });
  return app;
}
