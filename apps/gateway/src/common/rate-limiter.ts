/** Settings of a {@link RateLimiter}. */
export interface RateLimiterOptions {
  /** Tokens added per second (the sustained rate). */
  perSecond: number;
  /** Bucket size (the burst allowed after a quiet period). */
  burst: number;
  /** Buckets kept at most; the least recently used are forgotten first (default 100,000). */
  maxKeys?: number;
  /** The clock (tests pin it). */
  now?: () => number;
}

/**
 * A token bucket per key (the user id), in memory: each gateway instance limits its own traffic,
 * which is what protects it. A full bucket is the same as a forgotten one, so eviction is harmless.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly now: () => number;
  private readonly maxKeys: number;

  constructor(private readonly o: RateLimiterOptions) {
    this.now = o.now ?? Date.now;
    this.maxKeys = o.maxKeys ?? 100_000;
  }

  /** Takes one token for `key`: 0 when allowed, else the milliseconds until a token is available. */
  take(key: string): number {
    const now = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.o.burst, at: now };
    this.buckets.delete(key); // re-insert: Map order is the LRU order
    b.tokens = Math.min(this.o.burst, b.tokens + ((now - b.at) / 1000) * this.o.perSecond);
    b.at = now;
    let wait = 0;
    if (b.tokens >= 1) b.tokens -= 1;
    else wait = Math.ceil(((1 - b.tokens) / this.o.perSecond) * 1000);
    this.buckets.set(key, b);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value as string);
    return wait;
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }
}
