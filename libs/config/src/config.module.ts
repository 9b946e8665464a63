import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { validateEnv } from './env.schema';
import { ParleyConfig } from './parley-config';

/** Loads and validates the environment once; every app imports it. */
@Global()
@Module({
  imports: [
    ConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, validate: validateEnv, cache: true }),
  ],
  providers: [ParleyConfig],
  exports: [ParleyConfig],
})
export class ParleyConfigModule {}
