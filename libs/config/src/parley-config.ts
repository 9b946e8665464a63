import { Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { conversationRulesOf, type ParleyEnv } from './env.schema';

/** Typed access to the validated configuration (a Nest provider; classes as tokens, no magic strings). */
@Injectable()
export class ParleyConfig {
  constructor(private readonly config: ConfigService<ParleyEnv, true>) {}

  /** One validated setting. */
  get<K extends keyof ParleyEnv>(key: K): ParleyEnv[K] {
    return this.config.get(key, { infer: true });
  }

  /** The conversation rules as configured (see {@link conversationRulesOf}). */
  conversationRules(): ReturnType<typeof conversationRulesOf> {
    return conversationRulesOf({
      IM_MAX_BODY_BYTES: this.get('IM_MAX_BODY_BYTES'),
      IM_DEDUP_WINDOW_MS: this.get('IM_DEDUP_WINDOW_MS'),
      IM_DEDUP_MAX_ENTRIES: this.get('IM_DEDUP_MAX_ENTRIES'),
      IM_RECALL_WINDOW_MS: this.get('IM_RECALL_WINDOW_MS'),
      IM_RECALL_MAX_ENTRIES: this.get('IM_RECALL_MAX_ENTRIES'),
    });
  }
}
