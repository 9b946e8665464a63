import { createHash, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { deflateRaw, inflateRaw } from 'node:zlib';
import { Logger } from '@nestjs/common';
import { eventSubjectOfTail } from '@parley/contracts';
import { type KV, type KvEntry, type NatsConnection } from 'nats';
import { jetStreamErrorCode } from './errors';
import { type Snapshot, SnapshotStore, SnapshotUnreadableError } from './snapshot-store';

/** Name of the KV bucket holding actor snapshots (DESIGN §15). */
export const SNAPSHOTS_BUCKET = 'IM_SNAPSHOTS';

/** Tuning of {@link JetStreamSnapshotStore}. */
export interface JetStreamSnapshotStoreOptions {
  /** Bucket name (default IM_SNAPSHOTS). */
  bucket?: string;
  /** Replicas when this store creates the bucket (default 1). */
  replicas?: number;
  /** Create the bucket when missing (actor hosts); others only bind to it (default true). */
  create?: boolean;
  /** Largest value written to one key, in bytes; bigger snapshots are split (default 256 KiB). */
  chunkBytes?: number;
}

/** The first line of a stored value: what the body is and how to check it. */
interface Header {
  /** Format of the stored value (1: deflate-raw JSON, inline or in chunks). */
  f: 1;
  v: number;
  streamSeq: number;
  /** Compressed bytes in all. */
  bytes: number;
  /** SHA-256 of the compressed bytes, hex. */
  sha256: string;
  /** 0: the body follows the header line; n: in n chunk keys of generation `gen`. */
  chunks: number;
  gen: string;
}

const zip = promisify(deflateRaw);
const unzip = promisify(inflateRaw);
const enc = new TextEncoder();
const dec = new TextDecoder();
const NEWLINE = 0x0a;
const STREAM_NOT_FOUND = 10059;
const WRONG_LAST_SEQUENCE = 10071;

/** KV keys allow `[-/_=.A-Za-z0-9]`: ids never hold `=`, so `:` maps to it one to one. */
export function snapshotKey(subject: string): string {
  return subject.replace(/^im\.evt\./, '').replace(/:/g, '=');
}
/** The subject a snapshot key belongs to. */
export function subjectOfSnapshotKey(key: string): string {
  return eventSubjectOfTail(key.replace(/=/g, ':'));
}
const chunkKey = (key: string, gen: string, i: number) => `chunk.${key}.${gen}.${i}`;

/**
 * {@link SnapshotStore} on a JetStream KV bucket (history 1). A value is a JSON header line followed by
 * the deflated state; a state bigger than one value (the server's max payload is 1 MiB by default) is
 * split into chunk keys of a fresh generation written before the header that names them, so a reader
 * never sees half a snapshot. Saves are monotonic: compare-and-set on the header's revision, and never
 * over a snapshot at or past the new one's position.
 */
export class JetStreamSnapshotStore extends SnapshotStore {
  private readonly log = new Logger('snapshots');
  private readonly bucket: string;
  private readonly chunkBytes: number;
  private kv?: Promise<KV>;

  constructor(
    private readonly nc: NatsConnection,
    private readonly opts: JetStreamSnapshotStoreOptions = {},
  ) {
    super();
    this.bucket = opts.bucket ?? SNAPSHOTS_BUCKET;
    this.chunkBytes = opts.chunkBytes ?? 256 * 1024;
  }

  async load(subject: string): Promise<Snapshot | undefined> {
    const key = snapshotKey(subject);
    const entry = await this.entry(key);
    if (!entry) return undefined;
    const [header, inline] = parseValue(entry.value, key);
    let body = inline;
    if (header.chunks > 0) {
      const kv = await this.open();
      const parts = await Promise.all(
        Array.from({ length: header.chunks }, (_, i) => kv.get(chunkKey(key, header.gen, i))),
      );
      if (parts.some((p) => !p || p.operation !== 'PUT')) {
        throw new SnapshotUnreadableError(`snapshot ${key}: a chunk of generation ${header.gen} is missing`);
      }
      body = Buffer.concat(parts.map((p) => p!.value));
    }
    if (body.length !== header.bytes || sha256(body) !== header.sha256) {
      throw new SnapshotUnreadableError(`snapshot ${key}: body does not match its checksum`);
    }
    try {
      const state = JSON.parse(dec.decode(await unzip(body))) as unknown;
      return { v: header.v, streamSeq: header.streamSeq, state };
    } catch (err) {
      throw new SnapshotUnreadableError(`snapshot ${key}: body does not decode`, err);
    }
  }

  async position(subject: string): Promise<number> {
    const entry = await this.entry(snapshotKey(subject));
    if (!entry) return 0;
    try {
      return parseValue(entry.value, entry.key)[0].streamSeq;
    } catch {
      return 0;
    }
  }

  async save(subject: string, snapshot: Snapshot): Promise<boolean> {
    const key = snapshotKey(subject);
    const body = await zip(enc.encode(JSON.stringify(snapshot.state)));
    const gen = randomBytes(4).toString('hex');
    const chunks = body.length + 512 > this.chunkBytes ? Math.ceil(body.length / this.chunkBytes) : 0;
    const header: Header = {
      f: 1,
      v: snapshot.v,
      streamSeq: snapshot.streamSeq,
      bytes: body.length,
      sha256: sha256(body),
      chunks,
      gen,
    };
    const kv = await this.open();
    for (let attempt = 0; attempt < 3; attempt++) {
      const current = await this.entry(key);
      let previous: Header | undefined;
      try {
        previous = current ? parseValue(current.value, key)[0] : undefined;
      } catch {
        previous = undefined; // a damaged snapshot is simply replaced
      }
      if (previous && previous.streamSeq >= snapshot.streamSeq) return false;
      for (let i = 0; i < chunks; i++) {
        await kv.put(chunkKey(key, gen, i), body.subarray(i * this.chunkBytes, (i + 1) * this.chunkBytes));
      }
      const value = Buffer.concat([enc.encode(JSON.stringify(header)), Buffer.from([NEWLINE])]);
      const stored = chunks > 0 ? value : Buffer.concat([value, body]);
      try {
        if (current) await kv.update(key, stored, current.revision);
        else await kv.create(key, stored);
      } catch (err) {
        // Another writer stored first: drop our chunks and compare again.
        await this.dropChunks(kv, key, gen, chunks);
        if (
          jetStreamErrorCode(err) === WRONG_LAST_SEQUENCE ||
          /wrong last sequence|exists/i.test(String(err))
        )
          continue;
        throw err;
      }
      if (previous && previous.chunks > 0) await this.dropChunks(kv, key, previous.gen, previous.chunks);
      return true;
    }
    return false;
  }

  async *subjects(): AsyncIterable<string> {
    // Listed in full first: the key lister stops early when the caller does other KV work between keys.
    const keys: string[] = [];
    for await (const key of await (await this.open()).keys()) if (!key.startsWith('chunk.')) keys.push(key);
    for (const key of keys) yield subjectOfSnapshotKey(key);
  }

  private async entry(key: string): Promise<KvEntry | undefined> {
    try {
      const e = await (await this.open()).get(key);
      return e && e.operation === 'PUT' ? e : undefined;
    } catch (err) {
      // The bucket went away (an operator deleted it): forget it, so the next call opens (or creates) it again.
      if (jetStreamErrorCode(err) === STREAM_NOT_FOUND || /stream not found/i.test(String(err))) {
        this.log.warn(
          `bucket ${this.bucket} is missing: actors replay their subjects in full until it is back`,
        );
        this.kv = undefined;
        return undefined;
      }
      throw err;
    }
  }

  private open(): Promise<KV> {
    this.kv ??= this.nc
      .jetstream()
      .views.kv(this.bucket, {
        history: 1,
        replicas: this.opts.replicas ?? 1,
        bindOnly: this.opts.create === false,
      })
      .catch((err: unknown) => {
        this.kv = undefined;
        throw err;
      });
    return this.kv;
  }

  private async dropChunks(kv: KV, key: string, gen: string, chunks: number): Promise<void> {
    for (let i = 0; i < chunks; i++) await kv.purge(chunkKey(key, gen, i)).catch(() => undefined);
  }
}

function parseValue(value: Uint8Array, key: string): [Header, Buffer] {
  const cut = value.indexOf(NEWLINE);
  let header: Header;
  try {
    header = JSON.parse(dec.decode(value.subarray(0, cut))) as Header;
  } catch (err) {
    throw new SnapshotUnreadableError(`snapshot ${key}: header does not decode`, err);
  }
  const ok =
    cut > 0 &&
    header.f === 1 &&
    Number.isSafeInteger(header.v) &&
    Number.isSafeInteger(header.streamSeq) &&
    header.streamSeq > 0 &&
    Number.isSafeInteger(header.chunks) &&
    typeof header.sha256 === 'string';
  if (!ok) throw new SnapshotUnreadableError(`snapshot ${key}: header is not a snapshot header`);
  return [header, Buffer.from(value.subarray(cut + 1))];
}

function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
