import { setTimeout as sleep } from 'node:timers/promises';

/** What the actor host does when it gains or loses a partition. */
export interface LeaseListener {
  /** The host may serve `partition` from now on (its lease is written and fresh). */
  onServe(partition: number): void;
  /** The host stops taking commands for `partition` (it still finishes those in flight). */
  onStop(partition: number): void;
}

/** A lease this host holds. */
export interface Held {
  /** KV revision of its last write. */
  revision: number;
  /** Epoch ms the lease was first taken. */
  since: number;
  /** Epoch ms of the last renewal's send time; the lease is trusted until renewedAt + ttl − margin. */
  renewedAt: number;
  /** Whether commands for it are taken. */
  serving: boolean;
  /** Commands running under it. */
  inFlight: number;
  drained?: () => void;
}

/**
 * The gate in front of the actors: which partitions this host holds, whether a lease is fresh enough
 * to write under (trusted until its last renewal was sent + ttl − margin), the commands running under
 * each, and the listener calls when serving starts or stops. No I/O.
 */
export class LeaseGate {
  private readonly held = new Map<number, Held>();

  constructor(
    private readonly listener: LeaseListener,
    private readonly o: { ttlMs: number; marginMs: number },
  ) {}

  /** True when this host holds `partition` and its lease is fresh enough to write under. */
  canServe(partition: number): boolean {
    const h = this.held.get(partition);
    return !!h && h.serving && Date.now() < this.validUntil(h);
  }

  /** Epoch ms until which this host may write for `partition` (0 when it does not hold it). */
  notAfter(partition: number): number {
    const h = this.held.get(partition);
    return h && h.serving ? this.validUntil(h) : 0;
  }

  /**
   * Registers a command for `partition` if this host may serve it; the returned function must be
   * called when the command finished (a partition is handed over only once its commands finished).
   */
  enter(partition: number): (() => void) | undefined {
    const h = this.held.get(partition);
    if (!h || !h.serving || Date.now() >= this.validUntil(h)) return undefined;
    h.inFlight++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      h.inFlight--;
      if (h.inFlight === 0) h.drained?.();
    };
  }

  /** Partitions served now, ascending. */
  owned(): number[] {
    return [...this.held.keys()].filter((p) => this.canServe(p)).sort((a, b) => a - b);
  }

  /** The lease of `partition`, when held. */
  get(partition: number): Held | undefined {
    return this.held.get(partition);
  }

  /** Held partitions with their leases, in the order they were taken. */
  entries(): Array<[number, Held]> {
    return [...this.held.entries()];
  }

  /** Held partitions, in the order they were taken. */
  partitions(): number[] {
    return [...this.held.keys()];
  }

  /** Partition → the revision this host last wrote. */
  revisions(): Map<number, number> {
    return new Map([...this.held].map(([p, h]) => [p, h.revision]));
  }

  /** A lease just written: serve it. */
  take(partition: number, lease: { revision: number; since: number; renewedAt: number }): void {
    this.held.set(partition, { ...lease, serving: true, inFlight: 0 });
    this.listener.onServe(partition);
  }

  /** A renewal landed: the lease is fresh again (and served again if it had lapsed and `resume`). */
  renewed(partition: number, revision: number, sentAt: number, resume: boolean): void {
    const h = this.held.get(partition);
    if (!h) return;
    h.revision = revision;
    h.renewedAt = sentAt;
    if (!h.serving && resume) {
      h.serving = true;
      this.listener.onServe(partition);
    }
  }

  /** Stops serving leases past their validity; they may come back with a renewal. Returns those stopped. */
  stopExpired(): number[] {
    const stopped: number[] = [];
    for (const [p, h] of this.held) {
      if (h.serving && Date.now() >= this.validUntil(h)) {
        h.serving = false;
        this.listener.onStop(p);
        stopped.push(p);
      }
    }
    return stopped;
  }

  /** Stops serving `partition` and waits (bounded by its validity) for the commands in flight. */
  async drain(partition: number): Promise<void> {
    const h = this.held.get(partition);
    if (!h) return;
    if (h.serving) {
      h.serving = false;
      this.listener.onStop(partition);
    }
    // Commands in flight cannot write past the lease's validity (their appends carry notAfter).
    const deadline = this.validUntil(h);
    while (h.inFlight > 0 && Date.now() < deadline) {
      await Promise.race([new Promise<void>((r) => (h.drained = r)), sleep(50)]);
    }
  }

  /** Forgets `partition` (handed over, released or lost), stopping it first if it was served. */
  drop(partition: number): void {
    const h = this.held.get(partition);
    if (!h) return;
    this.held.delete(partition);
    if (h.serving) this.listener.onStop(partition);
  }

  /** Forgets every partition. */
  dropAll(): void {
    for (const p of [...this.held.keys()]) this.drop(p);
  }

  private validUntil(h: Held): number {
    return h.renewedAt + this.o.ttlMs - this.o.marginMs;
  }
}
