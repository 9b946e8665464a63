import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { ThrottledLog } from '@parley/event-log';
import { type NatsConnection, type Subscription } from 'nats';
import { LEASE_BUCKET, LeaseBucket, type LeaseSlot } from './lease-bucket';
import { type Held, LeaseGate, type LeaseListener } from './lease-gate';
import { type LeaseView, planBalance, planStop, planTakeovers, viewOf } from './lease-plan';

export { LEASE_BUCKET, leaseKey, type LeaseValue, presenceKey } from './lease-bucket';
export { type LeaseListener } from './lease-gate';
export { type LeaseView } from './lease-plan';

/** Settings of {@link PartitionLeases}. */
export interface LeaseSettings {
  /** Number of partitions (fixed for a deployment). */
  partitions: number;
  /** Lease time to live: the bucket's max age; a lease not renewed for this long disappears. */
  ttlMs: number;
  /** This host's id (unique among live hosts). */
  hostId: string;
  /** Replicas of the bucket (IM_STREAM_REPLICAS). */
  replicas: number;
  /**
   * Whether a compare-and-set by revision is safe against concurrent writers on this server (R1, or
   * 2.9.21+). When false (2.9.10 at R3) keys are only ever taken with `create` on an absent key.
   */
  casSafe: boolean;
  /** Bucket name (default IM_LEASES; tests use their own). */
  bucket?: string;
}

/**
 * Partition ownership through leases in a NATS KV bucket (docs/scale-out.md). This class is the loop;
 * the bucket's I/O is {@link LeaseBucket}, what to do each round is the pure plan (lease-plan.ts), and
 * what may be served now is the {@link LeaseGate}:
 *
 * - a free key `p.<n>` is taken with `create` (absent key only), renewed by its owner alone with
 *   `update(key, value, revision)` every ttl/3; the bucket's max age removes a lease nobody renews;
 * - the owner trusts its lease until `last renewal sent + ttl − ttl/3` and refuses commands after that,
 *   so a paused or partitioned host stops before another host could have created the key;
 * - presence keys `h.<hostId>` give the live hosts and the fair share `ceil(P / hosts)`; a host above
 *   it stops serving, drains and hands the extra keys to hosts below it (an `update` by the owner, so
 *   the only writer of a live key is always its owner); hosts below it create free keys.
 */
export class PartitionLeases {
  private readonly log = new Logger('leases');
  private readonly warn = new ThrottledLog(this.log, 5_000);
  private readonly bucket: LeaseBucket;
  /** What this host holds and may serve. */
  readonly gate: LeaseGate;
  private timer?: NodeJS.Timeout;
  private pokeSub?: Subscription;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private lastPresence = 0;
  /** Interval of the maintenance loop. */
  readonly tickMs: number;
  private readonly renewMs: number;
  /** The last scan of the bucket. */
  view: LeaseView = { owners: [], hosts: [] };
  /** Counters for tests and metrics. */
  readonly stats = { acquired: 0, handedOff: 0, adopted: 0, lost: 0, renewFailures: 0 };

  constructor(
    nc: NatsConnection,
    private readonly settings: LeaseSettings,
    listener: LeaseListener,
  ) {
    this.bucket = new LeaseBucket(nc, {
      bucket: settings.bucket ?? LEASE_BUCKET,
      ttlMs: settings.ttlMs,
      replicas: settings.replicas,
    });
    this.renewMs = Math.floor(settings.ttlMs / 3);
    this.gate = new LeaseGate(listener, { ttlMs: settings.ttlMs, marginMs: Math.floor(settings.ttlMs / 3) });
    this.tickMs = Math.max(100, Math.min(1_000, Math.floor(settings.ttlMs / 6)));
  }

  /** This host's id. */
  get hostId(): string {
    return this.settings.hostId;
  }

  /** Opens the bucket (creating it, or aligning its max age), then runs the first round at once. */
  async start(): Promise<void> {
    // A cluster electing leaders (a member just died) times out for a few seconds: keep trying.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await this.bucket.open();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        this.warn.warn('open', `opening ${this.bucket.name} failed: ${(err as Error).message}; retrying`);
        await sleep(500);
      }
    }
    this.pokeSub = this.bucket.onPoke(this.hostId, () => void this.wake());
    await this.wake();
    this.schedule();
  }

  /** True when this host owns `partition` and its lease is fresh enough to write under. */
  canServe(partition: number): boolean {
    return this.gate.canServe(partition);
  }

  /** Epoch ms until which this host may write for `partition` (0 when it does not own it). */
  notAfter(partition: number): number {
    return this.gate.notAfter(partition);
  }

  /** See {@link LeaseGate.enter}. */
  enter(partition: number): (() => void) | undefined {
    return this.gate.enter(partition);
  }

  /** Partitions this host serves now, ascending. */
  owned(): number[] {
    return this.gate.owned();
  }

  /** Runs a maintenance round now (or right after the one running). */
  async wake(): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.round();
        } catch (err) {
          this.warn.warn('lease round failed', `lease round failed: ${(err as Error).message}`);
        }
      } while (this.again && !this.stopped);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /**
   * Stops the loop and gives every partition away: handed to another live host when there is one,
   * else deleted (the key frees at once where CAS is safe, after the ttl otherwise).
   */
  async stop(): Promise<void> {
    this.halt();
    await this.running;
    await Promise.all(
      planStop(this.hostId, this.view, this.gate.partitions()).map(([p, to]) =>
        to ? this.handOff(p, to) : this.release(p),
      ),
    );
    await this.bucket.deletePresence(this.hostId);
  }

  /** Stops the loop without writing anything: no renewals, no handoffs (leases expire after the ttl). */
  halt(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.pokeSub?.unsubscribe();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.wake().finally(() => this.schedule());
    }, this.tickMs);
    this.timer.unref();
  }

  /** One round: presence, renewals, a scan, adoptions and losses, then rebalancing toward the fair share. */
  private async round(): Promise<void> {
    const now = Date.now();
    // 1. Presence, so other hosts count this one in the fair share.
    if (now - this.lastPresence >= this.renewMs) {
      await this.bucket.putPresence(this.hostId, now);
      this.lastPresence = now;
    }
    // 2. Renewals; a lease past its validity stops serving (it may still come back with a renewal).
    await Promise.all(
      this.gate.entries().map(async ([p, h]) => {
        if (Date.now() - h.renewedAt >= this.renewMs) await this.renew(p, h);
      }),
    );
    for (const p of this.gate.stopExpired()) {
      this.log.warn(`lease p.${p} not renewed in time: not serving it until a renewal succeeds`);
    }
    // 3. Scan the bucket.
    const scan = await this.bucket.scan(this.settings.partitions);
    this.view = viewOf(this.hostId, scan);
    // 4. Keys handed to this host (adopted with a renewal), and keys now naming someone else (lost).
    const { adopt, lost } = planTakeovers(this.hostId, scan.slots, this.gate.revisions());
    await Promise.all(adopt.map((p) => this.adopt(p, scan.slots[p])));
    for (const p of lost) this.lose(p, 'taken over');
    // 5. Toward the fair share.
    const { handOff, acquire } = planBalance({
      hostId: this.hostId,
      partitions: this.settings.partitions,
      view: this.view,
      slots: scan.slots,
      held: this.gate.partitions(),
      casSafe: this.settings.casSafe,
    });
    await Promise.all([
      ...handOff.map(([p, to]) => this.handOff(p, to)),
      ...acquire.map((p) => this.create(p, scan.slots[p])),
    ]);
  }

  private async create(p: number, slot: LeaseSlot): Promise<void> {
    const since = Date.now();
    const revision = await this.bucket.create(p, { hostId: this.hostId, since }, slot);
    if (revision === undefined) return; // someone else was first
    this.gate.take(p, { revision, since, renewedAt: since });
    this.stats.acquired++;
  }

  /** A key naming this host that it does not hold yet (a handoff): renew it before serving. */
  private async adopt(p: number, slot: LeaseSlot): Promise<void> {
    const value = slot?.lease;
    if (!slot || !value) return;
    const sentAt = Date.now();
    const revision = await this.bucket.update(p, { ...value, hostId: this.hostId }, slot.revision);
    if (revision === undefined) return;
    this.gate.take(p, { revision, since: value.since, renewedAt: sentAt });
    this.stats.adopted++;
  }

  private async renew(p: number, h: Held): Promise<void> {
    const sentAt = Date.now();
    try {
      const revision = await this.bucket.update(p, { hostId: this.hostId, since: h.since }, h.revision);
      // Expired and possibly created by another host: it is not ours any more.
      if (revision === undefined) this.lose(p, 'expired');
      else this.gate.renewed(p, revision, sentAt, !this.stopped);
    } catch (err) {
      this.stats.renewFailures++;
      this.warn.warn('renew', `renewing p.${p} failed: ${(err as Error).message}`);
    }
  }

  /** Stops serving `p`, waits for its commands, then names `to` as the owner (the owner's last write). */
  private async handOff(p: number, to: string): Promise<void> {
    const h = this.gate.get(p);
    if (!h) return;
    await this.gate.drain(p);
    try {
      const written = await this.bucket.update(
        p,
        { hostId: to, since: Date.now(), from: this.hostId },
        h.revision,
      );
      if (written === undefined) throw new Error('the key changed since this host wrote it');
      this.stats.handedOff++;
      this.bucket.poke(to);
    } catch (err) {
      // Not written (or unknown): nobody renews the key any more, so it expires after the ttl.
      this.warn.warn('handoff', `handing p.${p} to ${to} failed: ${(err as Error).message}`);
    }
    this.gate.drop(p);
  }

  /** Stops serving `p`, waits for its commands, then deletes the key. */
  private async release(p: number): Promise<void> {
    const h = this.gate.get(p);
    if (!h) return;
    await this.gate.drain(p);
    await this.bucket.delete(p, h.revision);
    this.gate.drop(p);
  }

  private lose(p: number, why: string): void {
    this.log.warn(`lease p.${p} lost (${why})`);
    this.stats.lost++;
    this.gate.drop(p);
  }
}
