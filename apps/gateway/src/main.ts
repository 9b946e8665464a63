import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { appLogger, ParleyConfig, runApp } from '@parley/config';
import { GatewayModule } from './gateway.module';

void runApp('gateway', async () => {
  const app = await NestFactory.create(GatewayModule, { logger: appLogger('gateway') });
  const port = app.get(ParleyConfig).get('PORT');
  await app.listen(port, '0.0.0.0');
  new Logger('gateway').log(`listening on http://127.0.0.1:${port}`);
  return app;
});
