import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { isPermissionError } from './errors';
import {
  DiscardPolicy,
  type JetStreamManager,
  nanos,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from 'nats';

/** Name of the stream holding every event: the source of truth (DESIGN §3). */
export const EVENTS_STREAM = 'IM_EVENTS';
/** Name of the work-queue stream for durable fire-and-forget commands (DESIGN §3). */
export const INGRESS_STREAM = 'IM_INGRESS';
/** Name of the stream where poison messages are recorded for operators. */
export const DEAD_LETTER_STREAM = 'IM_DEADLETTER';
/** Subject prefix of dead-letter records: `im.dlq.<consumer>`. */
export const DEAD_LETTER_SUBJECT_PREFIX = 'im.dlq';

/** Stream settings that come from configuration. */
export interface StreamSettings {
  /** Replicas for every stream: 1 locally, 3 in a cluster (`IM_STREAM_REPLICAS`). */
  replicas: number;
  /** Maximum age of events in ms; 0 keeps them forever (default). */
  eventsMaxAgeMs?: number;
  /** Maximum age of dead-letter records in ms (default 30 days). */
  deadLetterMaxAgeMs?: number;
}

/** What {@link ensureStreams} did to one stream. */
export interface StreamReport {
  /** Stream name. */
  name: string;
  /** `created`, `updated`, `unchanged`, or `drift` when a difference could not be applied. */
  action: 'created' | 'updated' | 'unchanged' | 'drift';
  /** Differences found between the wanted and the existing configuration. */
  differences: string[];
  /** Why an update was refused, when `action` is `drift`. */
  error?: string;
}

const TWO_MINUTES = 2 * 60 * 1000;

/** The wanted configuration of every Parley stream. */
export function desiredStreams(settings: StreamSettings): Array<Partial<StreamConfig> & { name: string }> {
  return [
    {
      name: EVENTS_STREAM,
      subjects: ['im.evt.>'],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(settings.eventsMaxAgeMs ?? 0),
      // The server refuses a duplicate window longer than the max age.
      duplicate_window: nanos(Math.min(TWO_MINUTES, settings.eventsMaxAgeMs || TWO_MINUTES)),
      num_replicas: settings.replicas,
      deny_delete: true,
      deny_purge: true,
      allow_direct: true,
    },
    {
      name: INGRESS_STREAM,
      subjects: ['im.in.>'],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(TWO_MINUTES),
      num_replicas: settings.replicas,
    },
    {
      name: DEAD_LETTER_STREAM,
      subjects: [`${DEAD_LETTER_SUBJECT_PREFIX}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: nanos(settings.deadLetterMaxAgeMs ?? 30 * 24 * 3600 * 1000),
      num_replicas: settings.replicas,
    },
  ];
}

// The server refuses to change these on an existing stream: a difference is drift an operator must resolve.
const IMMUTABLE: Array<keyof StreamConfig> = ['storage', 'retention'];

function differences(want: Partial<StreamConfig>, have: StreamConfig): string[] {
  const out: string[] = [];
  for (const [key, value] of Object.entries(want)) {
    const current = (have as unknown as Record<string, unknown>)[key];
    const same = Array.isArray(value)
      ? JSON.stringify([...value].sort()) === JSON.stringify([...((current as unknown[]) ?? [])].sort())
      : (value ?? false) === (current ?? false);
    if (!same) out.push(`${key}: have ${JSON.stringify(current)}, want ${JSON.stringify(value)}`);
  }
  return out;
}

/**
 * Creates Parley's streams or brings them to the wanted configuration. Idempotent: a second call
 * changes nothing. A difference the server cannot apply (storage, retention, replicas on a single
 * server…) is reported as drift and logged, never "fixed" by deleting the stream: the log is the truth.
 * A stream whose replicas drift and whose other settings were updated is reported twice.
 */
export async function ensureStreams(
  jsm: JetStreamManager,
  settings: StreamSettings,
  opts: { waitForCreatorMs?: number } = {},
): Promise<StreamReport[]> {
  const log = new Logger('streams');
  const reports: StreamReport[] = [];
  for (let want of desiredStreams(settings)) {
    let info: StreamInfo | undefined;
    try {
      info = await jsm.streams.info(want.name);
    } catch (err) {
      if ((err as { code?: string }).code !== '404') throw err;
    }
    if (!info) {
      try {
        await jsm.streams.add(want);
        reports.push({ name: want.name, action: 'created', differences: [] });
        continue;
      } catch (err) {
        if (isPermissionError(err)) {
          // This app's NATS user may not create streams (in the cluster only the actor hosts' may).
          info = await waitForStream(jsm, want.name, opts.waitForCreatorMs ?? 60_000, log);
        } else {
          // Another process created it between our info and add: fall through to compare.
          if (!/already in use/i.test((err as Error).message)) throw err;
          info = await jsm.streams.info(want.name);
        }
      }
    }
    // A standalone server stores num_replicas 3 but can only keep one copy: that is drift to report,
    // never a setting to apply (the stream info of a clustered server names its cluster).
    if ((want.num_replicas ?? 1) > 1 && !info.cluster) {
      const note = `num_replicas: want ${want.num_replicas}, but the server is not clustered`;
      log.warn(`stream ${want.name} drifted: ${note}`);
      reports.push({
        name: want.name,
        action: 'drift',
        differences: [note],
        error: 'server is not clustered',
      });
      want = { ...want, num_replicas: info.config.num_replicas };
    }
    const diff = differences(want, info.config);
    if (diff.length === 0) {
      if (!reports.some((r) => r.name === want.name)) {
        reports.push({ name: want.name, action: 'unchanged', differences: [] });
      }
      continue;
    }
    const immutable = diff.filter((d) => IMMUTABLE.some((k) => d.startsWith(`${k}:`)));
    if (immutable.length > 0) {
      log.warn(`stream ${want.name} drifted and cannot be updated: ${immutable.join('; ')}`);
      reports.push({
        name: want.name,
        action: 'drift',
        differences: diff,
        error: 'immutable setting differs',
      });
      continue;
    }
    try {
      const mutable = Object.fromEntries(
        Object.entries(want).filter(([k]) => !IMMUTABLE.includes(k as never)),
      );
      await jsm.streams.update(want.name, { ...info.config, ...mutable });
      log.log(`stream ${want.name} updated: ${diff.join('; ')}`);
      reports.push({ name: want.name, action: 'updated', differences: diff });
    } catch (err) {
      log.warn(`stream ${want.name} drifted, update refused (${(err as Error).message}): ${diff.join('; ')}`);
      reports.push({ name: want.name, action: 'drift', differences: diff, error: (err as Error).message });
    }
  }
  return reports;
}

/** Waits (bounded) until another app created stream `name`. */
async function waitForStream(
  jsm: JetStreamManager,
  name: string,
  budgetMs: number,
  log: Logger,
): Promise<StreamInfo> {
  log.warn(`stream ${name} does not exist and this NATS user may not create it: waiting for the actor hosts`);
  const deadline = Date.now() + budgetMs;
  for (;;) {
    try {
      return await jsm.streams.info(name);
    } catch (err) {
      if ((err as { code?: string }).code !== '404') throw err;
      if (Date.now() > deadline) {
        throw new Error(
          `stream ${name} still does not exist after ${budgetMs} ms, and this NATS user may not create it ` +
            '(the actor hosts create the streams)',
        );
      }
      await sleep(250);
    }
  }
}

/** Parses a `major.minor.patch` server version into a comparable tuple. */
function versionTuple(version: string): [number, number, number] {
  const [a, b, c] = version.split(/[.-]/).map((p) => Number.parseInt(p, 10));
  return [a || 0, b || 0, c || 0];
}

/**
 * True when the server is older than 2.9.21 and streams are replicated: there the expected-sequence
 * check is not safe against concurrent writers (DESIGN §9), so correctness rests on single ownership.
 */
export function expectedSequenceUnsafe(serverVersion: string, replicas: number): boolean {
  const [a, b, c] = versionTuple(serverVersion);
  const older = a < 2 || (a === 2 && (b < 9 || (b === 9 && c < 21)));
  return replicas > 1 && older;
}
