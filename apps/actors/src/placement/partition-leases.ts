import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { fnv1a32, leasePokeSubject } from '@parley/contracts';
import { ThrottledLog } from '@parley/event-log';
import { jetStreamErrorCode, JS_WRONG_LAST_SEQUENCE } from '@parley/event-log';
import { type KV, type KvEntry, type NatsConnection, nanos, type Subscription } from 'nats';

/** Name of the lease bucket (KV, stream `KV_IM_LEASES`). */
export const LEASE_BUCKET = 'IM_LEASES';

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

/** What the actor host does when it gains or loses a partition. */
export interface LeaseListener {
  /** The host may serve `partition` from now on (its lease is written and fresh). */
  onServe(partition: number): void;
  /** The host stops taking commands for `partition` (it still finishes those in flight). */
  onStop(partition: number): void;
}

/** The value of a lease key `p.<n>`. */
export interface LeaseValue {
  /** Owner. */
  hostId: string;
  /** Epoch ms the owner took it. */
  since: number;
  /** The previous owner when it was handed over. */
  from?: string;
}

interface Held {
  revision: number;
  since: number;
  /** Epoch ms of the last renewal's send time; the lease is trusted until renewedAt + ttl − margin. */
  renewedAt: number;
  serving: boolean;
  inFlight: number;
  drained?: () => void;
}

/** A snapshot of the bucket, as one host saw it. */
export interface LeaseView {
  /** Owner of each partition ('' = free). */
  owners: string[];
  /** Hosts with a live presence key. */
  hosts: string[];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Partition ownership through leases in a NATS KV bucket (docs/scale-out.md):
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
  private readonly held = new Map<number, Held>();
  private kv?: KV;
  private timer?: NodeJS.Timeout;
  private pokeSub?: Subscription;
  private running?: Promise<void>;
  private again = false;
  private stopped = false;
  private lastPresence = 0;
  private readonly bucket: string;
  /** Interval of the maintenance loop. */
  readonly tickMs: number;
  private readonly renewMs: number;
  private readonly marginMs: number;
  /** The last scan of the bucket. */
  view: LeaseView = { owners: [], hosts: [] };
  /** Counters for tests and metrics. */
  readonly stats = { acquired: 0, handedOff: 0, adopted: 0, lost: 0, renewFailures: 0 };

  constructor(
    private readonly nc: NatsConnection,
    private readonly settings: LeaseSettings,
    private readonly listener: LeaseListener,
  ) {
    this.bucket = settings.bucket ?? LEASE_BUCKET;
    this.renewMs = Math.floor(settings.ttlMs / 3);
    this.marginMs = Math.floor(settings.ttlMs / 3);
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
        await this.openBucket();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        this.warn.warn('open', `opening ${this.bucket} failed: ${(err as Error).message}; retrying`);
        await sleep(500);
      }
    }
    this.pokeSub = this.nc.subscribe(leasePokeSubject(this.bucket, this.hostId), {
      callback: () => this.wake(),
    });
    await this.wake();
    this.schedule();
  }

  private async openBucket(): Promise<void> {
    const js = this.nc.jetstream();
    this.kv = await js.views.kv(this.bucket, {
      history: 1,
      ttl: this.settings.ttlMs,
      replicas: this.settings.replicas,
    });
    const jsm = await this.nc.jetstreamManager({ checkAPI: false });
    const info = await jsm.streams.info(`KV_${this.bucket}`);
    if (info.config.max_age !== nanos(this.settings.ttlMs)) {
      this.log.warn(`aligning ${this.bucket} max age to IM_LEASE_TTL_MS=${this.settings.ttlMs}`);
      await jsm.streams.update(info.config.name, { ...info.config, max_age: nanos(this.settings.ttlMs) });
    }
  }

  /** True when this host owns `partition` and its lease is fresh enough to write under. */
  canServe(partition: number): boolean {
    const h = this.held.get(partition);
    return !!h && h.serving && Date.now() < this.validUntil(h);
  }

  /** Epoch ms until which this host may write for `partition` (0 when it does not own it). */
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

  /** Partitions this host serves now, ascending. */
  owned(): number[] {
    return [...this.held.entries()]
      .filter(([p]) => this.canServe(p))
      .map(([p]) => p)
      .sort((a, b) => a - b);
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
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.pokeSub?.unsubscribe();
    await this.running;
    const others = this.view.hosts.filter((h) => h !== this.hostId);
    const counts = this.counts();
    const targets = others.sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0));
    let i = 0;
    await Promise.all(
      [...this.held.keys()].map((p) =>
        targets.length > 0 ? this.handOff(p, targets[i++ % targets.length]) : this.release(p),
      ),
    );
    await this.kv?.delete(presenceKey(this.hostId)).catch(() => undefined);
  }

  /**
   * Stops renewing without releasing or forgetting anything, like a paused process (for tests): the
   * leases still look held, and {@link canServe} turns false once their validity ends.
   */
  suspend(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.pokeSub?.unsubscribe();
  }

  /** Stops the loop without writing anything (a crash, for tests): leases expire after the ttl. */
  abandon(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.pokeSub?.unsubscribe();
    for (const p of [...this.held.keys()]) this.drop(p);
  }

  private validUntil(h: Held): number {
    return h.renewedAt + this.settings.ttlMs - this.marginMs;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.wake().finally(() => this.schedule());
    }, this.tickMs);
    this.timer.unref();
  }

  /** One round: presence, renewals, a scan, adoptions, then rebalancing toward the fair share. */
  private async round(): Promise<void> {
    const kv = this.kv!;
    const now = Date.now();
    // 1. Presence, so other hosts count this one in the fair share.
    if (now - this.lastPresence >= this.renewMs) {
      await kv.put(presenceKey(this.hostId), enc.encode(JSON.stringify({ at: now })));
      this.lastPresence = now;
    }
    // 2. Renewals; a lease past its validity stops serving (it may still come back with a renewal).
    await Promise.all(
      [...this.held.entries()].map(async ([p, h]) => {
        if (Date.now() - h.renewedAt >= this.renewMs) await this.renew(p, h);
        if (h.serving && Date.now() >= this.validUntil(h)) {
          this.log.warn(`lease p.${p} not renewed in time: not serving it until a renewal succeeds`);
          h.serving = false;
          this.listener.onStop(p);
        }
      }),
    );
    // 3. Scan the bucket.
    const entries = await Promise.all(
      Array.from({ length: this.settings.partitions }, (_, p) => kv.get(leaseKey(p))),
    );
    const hosts = new Set<string>([this.hostId]);
    for await (const k of await kv.keys('h.*')) hosts.add(k.slice(2));
    const owners = entries.map((e) => ownerOf(e));
    this.view = { owners, hosts: [...hosts].sort() };
    // 4. Keys handed to this host (or left by an earlier run with the same id): adopt with a renewal.
    await Promise.all(
      entries.map(async (e, p) => {
        if (e && owners[p] === this.hostId && !this.held.has(p)) await this.adopt(p, e);
      }),
    );
    // 5. Keys this host believes it holds but which now name someone else (or nobody): lost.
    for (const p of [...this.held.keys()]) {
      const h = this.held.get(p)!;
      const e = entries[p];
      if (e && e.revision > h.revision && owners[p] !== this.hostId) this.lose(p, 'taken over');
    }
    // 6. Toward the fair share.
    const share = Math.ceil(this.settings.partitions / hosts.size);
    const mine = this.held.size;
    if (mine > share) await this.shed(mine - share, share);
    else if (mine < share) await this.acquire(share - mine, entries);
  }

  private counts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const o of this.view.owners) if (o) counts.set(o, (counts.get(o) ?? 0) + 1);
    return counts;
  }

  /** Hands `excess` partitions to live hosts below the share, most starved first. */
  private async shed(excess: number, share: number): Promise<void> {
    const counts = this.counts();
    const deficits = this.view.hosts
      .filter((h) => h !== this.hostId)
      .map((h) => ({ host: h, want: share - (counts.get(h) ?? 0) }))
      .filter((d) => d.want > 0)
      .sort((a, b) => b.want - a.want);
    const plan: Array<[number, string]> = [];
    const mine = [...this.held.keys()].sort((a, b) => b - a);
    for (const d of deficits) {
      while (d.want > 0 && plan.length < excess && mine.length > 0) {
        plan.push([mine.shift()!, d.host]);
        d.want--;
      }
    }
    await Promise.all(plan.map(([p, to]) => this.handOff(p, to)));
  }

  /** Creates up to `want` free keys, in an order of its own so hosts starting together spread out. */
  private async acquire(want: number, entries: Array<KvEntry | null>): Promise<void> {
    const free = entries
      .map((e, p) => ({ p, e }))
      .filter(({ e }) => !e || ((e.operation === 'DEL' || e.operation === 'PURGE') && this.settings.casSafe))
      .sort((a, b) => rank(this.hostId, a.p) - rank(this.hostId, b.p))
      .slice(0, want);
    await Promise.all(free.map(({ p, e }) => this.create(p, e)));
  }

  private async create(p: number, e: KvEntry | null): Promise<void> {
    const value: LeaseValue = { hostId: this.hostId, since: Date.now() };
    const sentAt = Date.now();
    try {
      // `create` only on an absent key: on 2.9.10 R3 that is the one compare-and-set safe against racers.
      const revision = e
        ? await this.kv!.update(leaseKey(p), encodeLease(value), e.revision)
        : await this.kv!.put(leaseKey(p), encodeLease(value), { previousSeq: 0 });
      this.take(p, { revision, since: value.since, renewedAt: sentAt });
      this.stats.acquired++;
    } catch (err) {
      if (jetStreamErrorCode(err) !== JS_WRONG_LAST_SEQUENCE) throw err; // someone else was first
    }
  }

  /** A key naming this host that it does not hold yet (a handoff): renew it before serving. */
  private async adopt(p: number, e: KvEntry): Promise<void> {
    const value = decodeLease(e);
    if (!value) return;
    const sentAt = Date.now();
    try {
      const revision = await this.kv!.update(
        leaseKey(p),
        encodeLease({ ...value, hostId: this.hostId }),
        e.revision,
      );
      this.take(p, { revision, since: value.since, renewedAt: sentAt });
      this.stats.adopted++;
    } catch (err) {
      if (jetStreamErrorCode(err) !== JS_WRONG_LAST_SEQUENCE) throw err;
    }
  }

  private take(p: number, lease: { revision: number; since: number; renewedAt: number }): void {
    this.held.set(p, { ...lease, serving: true, inFlight: 0 });
    this.listener.onServe(p);
  }

  private async renew(p: number, h: Held): Promise<void> {
    const sentAt = Date.now();
    try {
      h.revision = await this.kv!.update(
        leaseKey(p),
        encodeLease({ hostId: this.hostId, since: h.since }),
        h.revision,
      );
      h.renewedAt = sentAt;
      if (!h.serving && !this.stopped) {
        h.serving = true;
        this.listener.onServe(p);
      }
    } catch (err) {
      if (jetStreamErrorCode(err) === JS_WRONG_LAST_SEQUENCE) {
        // Expired and possibly created by another host: it is not ours any more.
        this.lose(p, 'expired');
        return;
      }
      this.stats.renewFailures++;
      this.warn.warn('renew', `renewing p.${p} failed: ${(err as Error).message}`);
    }
  }

  /** Stops serving `p`, waits for its commands, then names `to` as the owner (the owner's last write). */
  private async handOff(p: number, to: string): Promise<void> {
    const h = this.held.get(p);
    if (!h) return;
    await this.drain(p, h);
    try {
      await this.kv!.update(
        leaseKey(p),
        encodeLease({ hostId: to, since: Date.now(), from: this.hostId }),
        h.revision,
      );
      this.stats.handedOff++;
      this.nc.publish(leasePokeSubject(this.bucket, to));
    } catch (err) {
      // Not written (or unknown): nobody renews the key any more, so it expires after the ttl.
      this.warn.warn('handoff', `handing p.${p} to ${to} failed: ${(err as Error).message}`);
    }
    this.held.delete(p);
  }

  /** Stops serving `p`, waits for its commands, then deletes the key. */
  private async release(p: number): Promise<void> {
    const h = this.held.get(p);
    if (!h) return;
    await this.drain(p, h);
    await this.kv!.delete(leaseKey(p), { previousSeq: h.revision }).catch(() => undefined);
    this.held.delete(p);
  }

  private async drain(p: number, h: Held): Promise<void> {
    if (h.serving) {
      h.serving = false;
      this.listener.onStop(p);
    }
    // Commands in flight cannot write past the lease's validity (their appends carry notAfter).
    const deadline = this.validUntil(h);
    while (h.inFlight > 0 && Date.now() < deadline) {
      await Promise.race([new Promise<void>((r) => (h.drained = r)), sleep(50)]);
    }
  }

  private lose(p: number, why: string): void {
    this.log.warn(`lease p.${p} lost (${why})`);
    this.stats.lost++;
    this.drop(p);
  }

  private drop(p: number): void {
    const h = this.held.get(p);
    if (!h) return;
    this.held.delete(p);
    if (h.serving) this.listener.onStop(p);
  }
}

/** `p.<n>`: the lease key of partition n. */
export function leaseKey(partition: number): string {
  return `p.${partition}`;
}

/** `h.<hostId>`: the presence key of a host. */
export function presenceKey(hostId: string): string {
  return `h.${hostId}`;
}

function encodeLease(v: LeaseValue): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

function decodeLease(e: KvEntry): LeaseValue | undefined {
  if (e.operation !== 'PUT' || e.length === 0) return undefined;
  try {
    const v = JSON.parse(dec.decode(e.value)) as LeaseValue;
    return typeof v.hostId === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

function ownerOf(e: KvEntry | null): string {
  return e ? (decodeLease(e)?.hostId ?? '') : '';
}

/** A host-specific order of partitions (so racing hosts try different keys first). */
function rank(hostId: string, p: number): number {
  return fnv1a32(`${hostId}/${p}`);
}
