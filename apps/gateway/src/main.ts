import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type NestExpressApplication } from '@nestjs/platform-express';
import { appLogger, ParleyConfig, runApp } from '@parley/config';
import { configureGateway, GATEWAY_APP_OPTIONS } from './gateway.app';
import { GatewayModule } from './gateway.module';

void runApp('gateway', async () => {
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule, {
    ...GATEWAY_APP_OPTIONS,
    logger: appLogger('gateway'),
  });
  configureGateway(app);
  const port = app.get(ParleyConfig).get('PORT');
  await app.listen(port, '0.0.0.0');
  new Logger('gateway').log(`listening on http://127.0.0.1:${port} (web client /, API docs /docs)`);
  return app;
});
