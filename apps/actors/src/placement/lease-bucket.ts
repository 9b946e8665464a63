import { Logger } from '@nestjs/common';
import { leasePokeSubject } from '@parley/contracts';
import { jetStreamErrorCode, JS_WRONG_LAST_SEQUENCE } from '@parley/event-log';
import { type KV, type KvEntry, type NatsConnection, nanos, type Subscription } from 'nats';

/** Name of the lease bucket (KV, stream `KV_IM_LEASES`). */
export const LEASE_BUCKET = 'IM_LEASES';

/** The value of a lease key `p.<n>`. */
export interface LeaseValue {
  /** Owner. */
  hostId: string;
  /** Epoch ms the owner took it. */
  since: number;
  /** The previous owner when it was handed over. */
  from?: string;
}

/** One lease key as scanned: absent (null), deleted, or naming an owner. */
export type LeaseSlot = {
  /** KV revision of the key's last write. */
  revision: number;
  /** The key was deleted (or purged): free, once CAS is safe. */
  deleted: boolean;
  /** The lease it holds (undefined for a delete or an unreadable value). */
  lease?: LeaseValue;
} | null;

/** The owner a slot names ('' = free). */
export function ownerOf(slot: LeaseSlot): string {
  return slot?.lease?.hostId ?? '';
}

/** `p.<n>`: the lease key of partition n. */
export function leaseKey(partition: number): string {
  return `p.${partition}`;
}

/** `h.<hostId>`: the presence key of a host. */
export function presenceKey(hostId: string): string {
  return `h.${hostId}`;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * The lease bucket's I/O, nothing else: lease keys `p.<n>` (created only when absent, updated by
 * revision), presence keys `h.<hostId>`, and the core NATS poke that wakes a host after a handoff.
 * A write that lost its compare-and-set answers undefined; other failures throw.
 */
export class LeaseBucket {
  private readonly log = new Logger('leases');
  private kv?: KV;

  constructor(
    private readonly nc: NatsConnection,
    private readonly o: { bucket: string; ttlMs: number; replicas: number },
  ) {}

  /** Bucket name. */
  get name(): string {
    return this.o.bucket;
  }

  /** Opens the bucket (creating it, or aligning its max age to the lease ttl). */
  async open(): Promise<void> {
    this.kv = await this.nc.jetstream().views.kv(this.o.bucket, {
      history: 1,
      ttl: this.o.ttlMs,
      replicas: this.o.replicas,
    });
    const jsm = await this.nc.jetstreamManager({ checkAPI: false });
    const info = await jsm.streams.info(`KV_${this.o.bucket}`);
    if (info.config.max_age !== nanos(this.o.ttlMs)) {
      this.log.warn(`aligning ${this.o.bucket} max age to IM_LEASE_TTL_MS=${this.o.ttlMs}`);
      await jsm.streams.update(info.config.name, { ...info.config, max_age: nanos(this.o.ttlMs) });
    }
  }

  /** Writes (refreshes) a host's presence key. */
  async putPresence(hostId: string, at: number): Promise<void> {
    await this.store.put(presenceKey(hostId), enc.encode(JSON.stringify({ at })));
  }

  /** Deletes a host's presence key (best effort). */
  async deletePresence(hostId: string): Promise<void> {
    await this.kv?.delete(presenceKey(hostId)).catch(() => undefined);
  }

  /** Every lease key and the hosts with a presence key. */
  async scan(partitions: number): Promise<{ slots: LeaseSlot[]; hosts: string[] }> {
    const kv = this.store;
    const entries = await Promise.all(Array.from({ length: partitions }, (_, p) => kv.get(leaseKey(p))));
    const hosts: string[] = [];
    for await (const k of await kv.keys('h.*')) hosts.push(k.slice(2));
    return { slots: entries.map(slotOf), hosts };
  }

  /**
   * Takes a free key: `create` on an absent one (on 2.9.10 R3 the one compare-and-set safe against
   * racers), an update of a deleted one by its revision. Undefined when someone else was first.
   */
  create(p: number, value: LeaseValue, slot: LeaseSlot): Promise<number | undefined> {
    return lostRace(
      slot
        ? this.store.update(leaseKey(p), encodeLease(value), slot.revision)
        : this.store.put(leaseKey(p), encodeLease(value), { previousSeq: 0 }),
    );
  }

  /** Rewrites a key at a known revision; undefined when it changed since (someone else wrote it). */
  update(p: number, value: LeaseValue, revision: number): Promise<number | undefined> {
    return lostRace(this.store.update(leaseKey(p), encodeLease(value), revision));
  }

  /** Deletes a key at a known revision (best effort). */
  async delete(p: number, revision: number): Promise<void> {
    await this.store.delete(leaseKey(p), { previousSeq: revision }).catch(() => undefined);
  }

  /** Wakes `hostId`'s lease loop (after handing it a key). */
  poke(hostId: string): void {
    this.nc.publish(leasePokeSubject(this.o.bucket, hostId));
  }

  /** Calls `wake` whenever another host pokes `hostId`. */
  onPoke(hostId: string, wake: () => void): Subscription {
    return this.nc.subscribe(leasePokeSubject(this.o.bucket, hostId), { callback: () => wake() });
  }

  private get store(): KV {
    if (!this.kv) throw new Error(`lease bucket ${this.o.bucket} is not open`);
    return this.kv;
  }
}

async function lostRace(write: Promise<number>): Promise<number | undefined> {
  try {
    return await write;
  } catch (err) {
    if (jetStreamErrorCode(err) === JS_WRONG_LAST_SEQUENCE) return undefined;
    throw err;
  }
}

function encodeLease(v: LeaseValue): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

function slotOf(e: KvEntry | null): LeaseSlot {
  if (!e) return null;
  return {
    revision: e.revision,
    deleted: e.operation === 'DEL' || e.operation === 'PURGE',
    lease: decodeLease(e),
  };
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
