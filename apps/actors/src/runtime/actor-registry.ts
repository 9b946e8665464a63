import { Semaphore } from './semaphore';

/** Limits of an {@link ActorRegistry}. */
export interface ActorRegistryOptions {
  /** Most actors kept in memory; the least recently used idle ones are passivated beyond it. */
  maxLiveActors: number;
  /** An actor idle this long (ms) is passivated. */
  idleMs: number;
  /** Most actors processing a message at the same time, across all actors. */
  maxConcurrent: number;
  /** Approximate memory for actor state, shared by the registries given the same budget (none: no limit). */
  memory?: MemoryBudget;
}

/**
 * Bytes of actor state kept in memory, against a limit: beyond it the least recently used idle actors
 * are passivated, whatever their count (a busy group's windows hold thousands of messages, an idle
 * direct chat a few).
 */
export class MemoryBudget {
  /** Approximate bytes held now. */
  used = 0;
  constructor(
    /** The limit in bytes (0: none). */
    readonly maxBytes: number,
  ) {}

  /** True while more is held than the limit allows. */
  get over(): boolean {
    return this.maxBytes > 0 && this.used > this.maxBytes;
  }
}

/** What the registry tells its owner about actors leaving memory. */
export interface ActorRegistryHooks<A> {
  /** Called as an actor is passivated (idle, over the cap, or at shutdown), e.g. to snapshot it. */
  onPassivate?: (key: string, actor: A) => void;
  /** Approximate bytes of an actor's state, asked after each of its messages (for the memory budget). */
  weigh?: (actor: A) => number;
}

interface Entry<A> {
  actor: A;
  tail: Promise<unknown>;
  pending: number;
  lastUsed: number;
  bytes: number;
}

/**
 * Virtual actors: an actor is created on its first message and dropped (passivated) when idle or
 * when the live cap or the memory budget is reached; it rebuilds from the log on the next one. Each actor has one mailbox
 * (its messages run one at a time, in arrival order); different actors run concurrently, bounded.
 */
export class ActorRegistry<A> {
  private readonly live = new Map<string, Entry<A>>();
  private readonly slots: Semaphore;
  private readonly sweeper: NodeJS.Timeout;
  /** Actors passivated so far (idle or over the cap). */
  passivated = 0;

  constructor(
    private readonly create: (key: string) => A,
    private readonly opts: ActorRegistryOptions,
    private readonly hooks: ActorRegistryHooks<A> = {},
  ) {
    this.slots = new Semaphore(opts.maxConcurrent);
    this.sweeper = setInterval(() => this.passivateIdle(), Math.max(250, Math.min(opts.idleMs / 2, 30_000)));
    this.sweeper.unref();
  }

  /** Actors currently in memory. */
  get size(): number {
    return this.live.size;
  }

  /** Messages queued or running across all mailboxes. */
  get inFlight(): number {
    let n = 0;
    for (const e of this.live.values()) n += e.pending;
    return n;
  }

  /** Calls `fn` for every live actor (e.g. to mark actors stale when their partition changed hands). */
  each(fn: (key: string, actor: A) => void): void {
    for (const [key, e] of this.live) fn(key, e.actor);
  }

  /** Puts `task` in the actor's mailbox; it runs after the actor's earlier messages. */
  tell<T>(key: string, task: (actor: A) => Promise<T>): Promise<T> {
    let entry = this.live.get(key);
    if (entry)
      this.live.delete(key); // re-insert: Map order is our LRU order
    else
      entry = {
        actor: this.create(key),
        tail: Promise.resolve(),
        pending: 0,
        lastUsed: Date.now(),
        bytes: 0,
      };
    this.live.set(key, entry);
    const e = entry;
    e.pending++;
    // Weighed before the caller sees the answer; without a budget, no wrapper on the command path.
    const weighed = this.opts.memory && this.hooks.weigh;
    const run = e.tail.then(() =>
      this.slots.run(weighed ? () => task(e.actor).finally(() => this.weigh(key, e)) : () => task(e.actor)),
    );
    e.tail = run
      .catch(() => undefined)
      .finally(() => {
        e.pending--;
        e.lastUsed = Date.now();
      });
    this.enforceCap();
    return run;
  }

  /** Resolves when every mailbox is empty (graceful shutdown). */
  async idle(): Promise<void> {
    while (this.inFlight > 0) await Promise.all([...this.live.values()].map((e) => e.tail));
  }

  /** Stops the idle sweeper and passivates every actor (call once the mailboxes are empty). */
  close(): void {
    clearInterval(this.sweeper);
    for (const [key, e] of this.live) this.passivate(key, e);
  }

  /** Re-weighs an actor after a message (before its caller sees the answer) and keeps within the budget. */
  private weigh(key: string, e: Entry<A>): void {
    const memory = this.opts.memory;
    if (!memory || !this.hooks.weigh || this.live.get(key) !== e) return;
    const bytes = this.hooks.weigh(e.actor);
    memory.used += bytes - e.bytes;
    e.bytes = bytes;
    if (memory.over) this.enforceCap();
  }

  private passivate(key: string, e: Entry<A>): void {
    this.live.delete(key);
    if (this.opts.memory) this.opts.memory.used -= e.bytes;
    this.passivated++;
    this.hooks.onPassivate?.(key, e.actor);
  }

  private enforceCap(): void {
    const over = () => this.live.size > this.opts.maxLiveActors || !!this.opts.memory?.over;
    if (!over()) return;
    for (const [key, e] of this.live) {
      if (!over()) break;
      if (e.pending === 0) this.passivate(key, e);
    }
  }

  private passivateIdle(): void {
    const cutoff = Date.now() - this.opts.idleMs;
    for (const [key, e] of this.live) {
      if (e.pending === 0 && e.lastUsed < cutoff) this.passivate(key, e);
    }
  }
}
