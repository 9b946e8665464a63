import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { appLogger, runApp } from '@parley/config';
import { ProjectorModule } from './projector.module';

void runApp('projector', () =>
  NestFactory.createApplicationContext(ProjectorModule, { logger: appLogger('projector') }),
);
