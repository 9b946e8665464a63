import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { appLogger, runApp } from '@parley/config';
import { ActorsModule } from './actors.module';

void runApp('actors', () =>
  NestFactory.createApplicationContext(ActorsModule, { logger: appLogger('actors') }),
);
