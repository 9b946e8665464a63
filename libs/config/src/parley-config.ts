import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { type ParleyEnv } from './env.schema';

/** Typed access to the validated configuration (a Nest provider; classes as tokens, no magic strings). */
@Injectable()
export class ParleyConfig {
  constructor(private readonly config: ConfigService<ParleyEnv, true>) {}

  /** One validated setting. */
  get<K extends keyof ParleyEnv>(key: K): ParleyEnv[K] {
    return this.config.get(key, { infer: true });
  }
}
