import {
  conversationEventSubject,
  decodeEvent,
  type MessageKind,
  type ParleyEvent,
  parseEventSubject,
  userEventSubject,
} from '@parley/contracts';
import {
  type ConversationRules,
  type ConversationState,
  DEFAULT_CONVERSATION_RULES,
  evolveConversation,
  evolveUser,
  initialConversationState,
  initialUserState,
  restoreConversation,
  restoreUser,
  snapshotConversation,
  snapshotUser,
  unreadCount,
  type UserState,
} from '@parley/domain';
import { EVENTS_STREAM, type EventLog, JetStreamEventLog, type SnapshotStore } from '@parley/event-log';
import {
  decodeMembership,
  effectiveRetentionMs,
  mayBeDeletedByRetention,
  messagePreview,
  type ParleyDatabase,
  type ParleyRedis,
  type ProjectionName,
  projectionPosition,
  ReadModel,
  waitForPosition,
} from '@parley/read-model';
import { type NatsConnection } from 'nats';
import { emptySeed, loadSeed, type ProjectionSeed } from './seed';

/** One place where a projection disagrees with the log. */
export interface Difference {
  /** Which store and key, e.g. `mysql conversations[g:team].owner`. */
  where: string;
  /** What the log says. */
  expected: unknown;
  /** What the store holds. */
  actual: unknown;
}

/** Result of {@link checkProjections}. */
export interface CheckResult {
  /** Events compared (stream seqs 1..upTo). */
  upTo: number;
  /** Every difference found (empty when the projections equal the log). */
  differences: Difference[];
  /** Actor snapshots compared with the fold of the log at their position, and snapshots used as the seed. */
  snapshots: { verified: number; seeded: number };
}

/** Options of {@link checkProjections}. */
export interface CheckOptions {
  /** The history database (omit to skip the history projection). */
  db?: ParleyDatabase;
  /** The counters Redis (omit to skip the counters projection). */
  redis?: ParleyRedis;
  /** Preview length the counters projection was run with (default 200). */
  previewMaxChars?: number;
  /** Stream (default IM_EVENTS). */
  stream?: string;
  /** How long to wait for the projections to reach the stream's end, in ms (default 30 s). */
  waitMs?: number;
  /** History retention the projector runs with: messages past it may be missing from MySQL. */
  retention?: CheckRetention;
  /**
   * Actor snapshots: each is compared with the fold of the log up to its position; once log retention
   * expired the stream's first events they are the seed of the expected state instead.
   */
  snapshots?: SnapshotStore;
  /** The conversation rules the actor hosts run with (default: the defaults). */
  rules?: ConversationRules;
}

/** The history retention a check allows for (see {@link mayBeDeletedByRetention}). */
export interface CheckRetention {
  /** `IM_HISTORY_RETENTION_MS` (0 = keep: every message must be in MySQL). */
  historyRetentionMs: number;
  /** Clock skew allowed between the checker and the retention job, in ms (default 60 s). */
  marginMs?: number;
  /** The clock (tests pin it). */
  now?: () => number;
}

interface ExpectedMessage {
  streamSeq: number;
  from: string;
  clientMsgId: string;
  kind: MessageKind;
  body: string;
  mentions: string[];
  at: number;
  recalledAt: number | null;
  recalledStreamSeq: number | null;
}

/**
 * What the log says about one conversation: the domain's fold (its record holds what the projections keep
 * beyond the decisions) plus the message rows.
 */
interface ExpectedConversation {
  state: ConversationState;
  /** The conversation's own history retention: `GroupSettingsChanged.retentionMs` folds in here (none yet). */
  retentionMs: number | null;
  /** Messages whose events are in the log (a seeded conversation's older ones expired). */
  messages: Map<number, ExpectedMessage>;
}

/** What the log says, folded with the domain's own evolve functions (an independent derivation). */
export interface ExpectedState {
  conversations: Map<string, ExpectedConversation>;
  users: Map<string, UserState>;
  /** Snapshot JSON of a subject's state as folded at a position asked for ({@link FoldOptions.captureAt}). */
  captured: Map<string, string>;
}

/** Options of {@link foldExpected}. */
export interface FoldOptions {
  /** Where subjects whose early events expired start (log retention); the log goes on after each position. */
  seed?: ProjectionSeed;
  /** Subject → position: capture the subject's state there (to compare with its stored snapshot). */
  captureAt?: Map<string, number>;
  /** The rules the actor hosts run with (dedup and recall windows shape the snapshots). */
  rules?: ConversationRules;
}

/** Folds events (in stream order) into the expected state. */
export function foldExpected(
  events: Array<{ event: ParleyEvent; streamSeq: number }>,
  opts: FoldOptions = {},
): ExpectedState {
  const seed = opts.seed ?? emptySeed();
  const rules = opts.rules ?? DEFAULT_CONVERSATION_RULES;
  const conversations = new Map<string, ExpectedConversation>();
  const users = new Map<string, UserState>();
  const captured = new Map<string, string>();
  for (const [cid, { state }] of seed.conversations) {
    conversations.set(cid, { state, retentionMs: null, messages: new Map() });
  }
  for (const [uid, { state }] of seed.users) users.set(uid, state);
  for (const { event: e, streamSeq } of events) {
    if (e.type === 'ReadMarked') {
      if (streamSeq <= (seed.users.get(e.userId)?.position ?? 0)) continue;
      const u = evolveUser(users.get(e.userId) ?? initialUserState(e.userId), e);
      users.set(e.userId, u);
      const subject = userEventSubject(e.userId);
      if (opts.captureAt?.get(subject) === streamSeq) captured.set(subject, JSON.stringify(snapshotUser(u)));
      continue;
    }
    let c = conversations.get(e.conversationId);
    if (!c) {
      c = { state: initialConversationState(e.conversationId), retentionMs: null, messages: new Map() };
      conversations.set(e.conversationId, c);
    }
    // Message rows come from every event the log still holds, seeded or not.
    if (e.type === 'MessageSent') {
      c.messages.set(e.data.seq, {
        ...e.data,
        streamSeq,
        at: e.at,
        recalledAt: null,
        recalledStreamSeq: null,
      });
    } else if (e.type === 'MessageRecalled') {
      const m = c.messages.get(e.data.seq);
      if (m && m.recalledAt === null) Object.assign(m, { recalledAt: e.at, recalledStreamSeq: streamSeq });
    }
    if (streamSeq <= (seed.conversations.get(e.conversationId)?.position ?? 0)) continue;
    c.state = evolveConversation(c.state, e, { streamSeq }, rules);
    const subject = conversationEventSubject(e.conversationId);
    if (opts.captureAt?.get(subject) === streamSeq) {
      captured.set(subject, JSON.stringify(snapshotConversation(c.state)));
    }
  }
  return { conversations, users, captured };
}

/** Reads every event of the log up to `upTo` (undecodable ones, the poison, are skipped like the projections do). */
export async function readStream(
  log: EventLog,
  upTo: number,
): Promise<Array<{ event: ParleyEvent; streamSeq: number }>> {
  const out: Array<{ event: ParleyEvent; streamSeq: number }> = [];
  for await (const m of log.replay(1, upTo)) {
    try {
      out.push({ event: decodeEvent(m.data), streamSeq: m.streamSeq });
    } catch {
      // poison: the projections skip it too
    }
  }
  return out;
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());
const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/**
 * The consistency check: folds the log with the domain's evolve functions, waits (bounded) until the
 * projections reached the stream's end, and compares every MySQL row and Redis key with the fold.
 * Run it on a quiet system: events appended meanwhile show up as differences.
 */
export async function checkProjections(nc: NatsConnection, opts: CheckOptions): Promise<CheckResult> {
  const stream = opts.stream ?? EVENTS_STREAM;
  const log = await JetStreamEventLog.create(nc, { stream });
  const { first: logStart, last: upTo } = await log.bounds();
  const differences: Difference[] = [];
  const diff = (where: string, exp: unknown, act: unknown) => {
    if (!same(exp, act)) differences.push({ where, expected: exp, actual: act });
  };
  // With the whole log at hand every snapshot is checked against it; once its start expired, the
  // snapshots are where the subjects start (DESIGN §15).
  const seed = opts.snapshots && logStart > 1 ? await loadSeed(opts.snapshots) : emptySeed();
  const stored =
    opts.snapshots && logStart <= 1 ? await readSnapshots(opts.snapshots) : new Map<string, StoredState>();
  const expected = foldExpected(await readStream(log, upTo), {
    seed,
    rules: opts.rules,
    captureAt: new Map([...stored].map(([subject, snap]) => [subject, snap.position])),
  });
  for (const [subject, snap] of stored) {
    diff(
      `snapshot ${subject} at ${snap.position}`,
      expected.captured.get(subject) ?? 'no event there',
      snap.json,
    );
  }
  const names: ProjectionName[] = [
    ...(opts.db ? ['history' as const] : []),
    ...(opts.redis ? ['counters' as const] : []),
  ];
  const deadline = Date.now() + (opts.waitMs ?? 30_000);
  for (const name of names) {
    const read = () => projectionPosition(name, { db: opts.db, redis: opts.redis });
    const at = await waitForPosition(read, upTo, { timeoutMs: Math.max(0, deadline - Date.now()) });
    if (at < upTo) diff(`${name} position`, `>= ${upTo}`, at);
  }
  if (opts.db) {
    await checkHistory(opts.db, expected, opts.retention ?? { historyRetentionMs: 0 }, logStart, diff);
  }
  if (opts.redis) await checkCounters(opts.redis, expected, opts.previewMaxChars ?? 200, diff);
  const seeded = seed.conversations.size + seed.users.size;
  return { upTo, differences, snapshots: { verified: stored.size, seeded } };
}

/** A stored snapshot, normalised through the domain's codec (what the fold's capture is compared with). */
interface StoredState {
  position: number;
  json: string;
}

async function readSnapshots(store: SnapshotStore): Promise<Map<string, StoredState>> {
  const out = new Map<string, StoredState>();
  for await (const subject of store.subjects()) {
    const owner = parseEventSubject(subject);
    if (!owner) continue;
    let json: string;
    let position = 0;
    try {
      const snap = await store.load(subject);
      if (!snap) continue;
      position = snap.streamSeq;
      json =
        owner.kind === 'conv'
          ? JSON.stringify(snapshotConversation(restoreConversation(owner.id, snap.v, snap.state)))
          : JSON.stringify(snapshotUser(restoreUser(owner.id, snap.v, snap.state)));
    } catch (err) {
      json = `unreadable: ${(err as Error).message}`;
    }
    out.set(subject, { position, json });
  }
  return out;
}

type Diff = (where: string, expected: unknown, actual: unknown) => void;

async function checkHistory(
  db: ParleyDatabase,
  x: ExpectedState,
  retention: CheckRetention,
  logStart: number,
  diff: Diff,
): Promise<void> {
  const q = <T>(sql: string) => db.dataSource.query(sql) as Promise<T[]>;
  const convRows = await q<{
    id: string;
    type: string;
    name: string;
    owner: string;
    last_seq: number;
    last_message_at: Date | null;
    dissolved_at: Date | null;
    created_at: Date;
    retention_ms: number | null;
  }>(
    'SELECT id, type, name, owner, last_seq, last_message_at, dissolved_at, created_at, retention_ms ' +
      'FROM conversations',
  );
  const convs = new Map(convRows.map((r) => [r.id, r]));
  for (const [cid, c] of x.conversations) {
    if (!c.state.exists) continue;
    const r = convs.get(cid);
    convs.delete(cid);
    const want = {
      type: c.state.kind,
      name: c.state.name,
      owner: c.state.owner,
      lastSeq: c.state.lastSeq,
      lastMessageAt: c.state.record.last?.at ?? null,
      dissolvedAt: c.state.record.dissolvedAt,
      createdAt: c.state.record.createdAt,
      retentionMs: c.retentionMs,
    };
    const have = r && {
      type: r.type,
      name: r.name,
      owner: r.owner,
      lastSeq: Number(r.last_seq),
      lastMessageAt: ms(r.last_message_at),
      dissolvedAt: ms(r.dissolved_at),
      createdAt: ms(r.created_at),
      retentionMs: r.retention_ms === null ? null : Number(r.retention_ms),
    };
    diff(`mysql conversations[${cid}]`, want, have ?? null);
  }
  for (const id of convs.keys()) diff(`mysql conversations[${id}]`, null, 'unexpected row');

  const memberRows = await q<{
    conversation_id: string;
    user_id: string;
    role: string;
    join_seq: number;
    left_seq: number | null;
  }>('SELECT conversation_id, user_id, role, join_seq, left_seq FROM conversation_members');
  const members = new Map(memberRows.map((r) => [`${r.conversation_id} ${r.user_id}`, r]));
  for (const [cid, c] of x.conversations) {
    if (!c.state.exists) continue;
    const check = (uid: string, want: { role: string; joinSeq: number; leftSeq: number | null }) => {
      const r = members.get(`${cid} ${uid}`);
      members.delete(`${cid} ${uid}`);
      const have = r && {
        role: r.role,
        joinSeq: Number(r.join_seq),
        leftSeq: r.left_seq === null ? null : Number(r.left_seq),
      };
      diff(`mysql conversation_members[${cid} ${uid}]`, want, have ?? null);
    };
    for (const [uid, m] of c.state.members) check(uid, { role: m.role, joinSeq: m.joinSeq, leftSeq: null });
    for (const [uid, l] of c.state.record.left) {
      check(uid, { role: 'member', joinSeq: l.joinSeq, leftSeq: l.leftSeq });
    }
  }
  for (const key of members.keys()) diff(`mysql conversation_members[${key}]`, null, 'unexpected row');

  const messageRows = await q<{
    conversation_id: string;
    seq: number;
    stream_seq: number | null;
    sender: string | null;
    client_msg_id: string | null;
    kind: string | null;
    body: string | null;
    mentions: string | null;
    sent_at: Date | null;
    recalled_at: Date | null;
    recalled_stream_seq: number | null;
  }>(
    'SELECT conversation_id, seq, stream_seq, sender, client_msg_id, kind, body, mentions, sent_at, recalled_at, ' +
      'recalled_stream_seq FROM messages',
  );
  const messages = new Map(messageRows.map((r) => [`${r.conversation_id} ${r.seq}`, r]));
  // Taken after the rows were read: a retention pass that deleted any of them used an earlier clock.
  const now = (retention.now ?? Date.now)();
  const margin = retention.marginMs ?? 60_000;
  for (const [cid, c] of x.conversations) {
    const retentionMs = effectiveRetentionMs(retention.historyRetentionMs, c.retentionMs);
    for (const [seq, m] of c.messages) {
      const r = messages.get(`${cid} ${seq}`);
      messages.delete(`${cid} ${seq}`);
      if (mayBeDeletedByRetention(m.at, now, retentionMs, margin)) {
        // Past retention: gone, still there (equal to the log), or only the recall applied after the
        // job deleted the message (a row without stream seq, which the next pass deletes).
        if (!r) continue;
        if (r.stream_seq === null) {
          const have = {
            recalledAt: ms(r.recalled_at),
            recalledStreamSeq: r.recalled_stream_seq === null ? null : Number(r.recalled_stream_seq),
          };
          diff(
            `mysql messages[${cid} ${seq}] (recall past retention)`,
            {
              recalledAt: m.recalledAt,
              recalledStreamSeq: m.recalledStreamSeq,
            },
            have,
          );
          continue;
        }
      }
      const have = r && {
        streamSeq: r.stream_seq === null ? null : Number(r.stream_seq),
        from: r.sender,
        clientMsgId: r.client_msg_id,
        kind: r.kind,
        body: r.body,
        mentions: r.mentions === null ? null : (JSON.parse(r.mentions) as string[]),
        at: ms(r.sent_at),
        recalledAt: ms(r.recalled_at),
        recalledStreamSeq: r.recalled_stream_seq === null ? null : Number(r.recalled_stream_seq),
      };
      const want = {
        streamSeq: m.streamSeq,
        from: m.from,
        clientMsgId: m.clientMsgId,
        kind: m.kind,
        body: m.body,
        mentions: m.mentions,
        at: m.at,
        recalledAt: m.recalledAt,
        recalledStreamSeq: m.recalledStreamSeq,
      };
      diff(`mysql messages[${cid} ${seq}]`, want, have ?? null);
    }
  }
  for (const [key, r] of messages) {
    // Rows of events that expired from the log are the archive: nothing is left to compare them with.
    if (r.stream_seq !== null && Number(r.stream_seq) < logStart) continue;
    diff(`mysql messages[${key}]`, null, 'unexpected row');
  }
}

async function checkCounters(
  redis: ParleyRedis,
  x: ExpectedState,
  previewMax: number,
  diff: Diff,
): Promise<void> {
  const k = redis.keys;
  const c = redis.client;
  const expectedKeys = new Set<string>([k.position('counters')]);
  const userConvs = new Map<string, Record<string, { joinSeq: number; leftSeq: number | null }>>();
  const ownByUser = new Map<string, Record<string, string>>();
  const active = new Map<number, Record<string, string>>();
  const decodeAll = (h: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(h).map(([f, v]) => {
        const { joinSeq, leftSeq } = decodeMembership(v);
        return [f, { joinSeq, leftSeq }];
      }),
    );

  for (const [cid, conv] of x.conversations) {
    const s = conv.state;
    if (!s.exists) continue;
    const r = s.record;
    const last = r.last ?? undefined;
    const preview = last && messagePreview(cid, last, previewMax);
    const wantHead: Record<string, string> = {
      type: s.kind,
      ...(s.kind === 'group' ? { name: s.name } : {}),
      activeAt: String(r.activeAt),
      ...(preview
        ? {
            lastSeq: String(s.lastSeq),
            lastStreamSeq: String(preview.streamSeq),
            lastAt: String(preview.at),
            last: JSON.stringify(preview),
            lastRecalled: last!.recalled ? '1' : '0',
          }
        : {}),
      ...(r.dissolvedAt !== null ? { dissolvedAt: String(r.dissolvedAt) } : {}),
    };
    expectedKeys.add(k.head(cid));
    diff(`redis ${k.head(cid)}`, sortObject(wantHead), sortObject(await c.hgetall(k.head(cid))));

    const wantMembers: Record<string, { joinSeq: number; leftSeq: number | null }> = {};
    for (const [uid, m] of s.members) wantMembers[uid] = { joinSeq: m.joinSeq, leftSeq: null };
    for (const [uid, l] of r.left) wantMembers[uid] = { joinSeq: l.joinSeq, leftSeq: l.leftSeq };
    for (const [uid, v] of Object.entries(wantMembers)) {
      const mine = userConvs.get(uid) ?? {};
      mine[cid] = v;
      userConvs.set(uid, mine);
    }
    expectedKeys.add(k.members(cid));
    diff(
      `redis ${k.members(cid)}`,
      sortObject(wantMembers),
      sortObject(decodeAll(await c.hgetall(k.members(cid)))),
    );

    for (const [uid, seq] of r.own) {
      const own = ownByUser.get(uid) ?? {};
      own[cid] = String(seq);
      ownByUser.set(uid, own);
    }
    if (s.kind === 'group' && r.speakers.size > 0) {
      expectedKeys.add(k.speakers(cid));
      const want = Object.fromEntries([...r.speakers].map(([u, at]) => [u, String(at)]));
      const have = await c.zrange(k.speakers(cid), 0, -1, 'WITHSCORES');
      const haveObj: Record<string, string> = {};
      for (let i = 0; i < have.length; i += 2) haveObj[have[i]] = have[i + 1];
      diff(`redis ${k.speakers(cid)}`, sortObject(want), sortObject(haveObj));
      const shard = k.activeShard(cid);
      active.set(shard, { ...(active.get(shard) ?? {}), [cid]: String(Math.max(...r.speakers.values())) });
    }
  }
  for (let shard = 0; shard < k.activeAll().length; shard++) {
    const want = active.get(shard) ?? {};
    if (Object.keys(want).length > 0) expectedKeys.add(k.active(shard));
    const have = await c.zrange(k.active(shard), 0, -1, 'WITHSCORES');
    const haveObj: Record<string, string> = {};
    for (let i = 0; i < have.length; i += 2) haveObj[have[i]] = have[i + 1];
    diff(`redis ${k.active(shard)}`, sortObject(want), sortObject(haveObj));
  }
  for (const [uid, want] of userConvs) {
    expectedKeys.add(k.userConversations(uid));
    diff(
      `redis ${k.userConversations(uid)}`,
      sortObject(want),
      sortObject(decodeAll(await c.hgetall(k.userConversations(uid)))),
    );
  }
  for (const [uid, want] of ownByUser) {
    expectedKeys.add(k.userOwn(uid));
    diff(`redis ${k.userOwn(uid)}`, sortObject(want), sortObject(await c.hgetall(k.userOwn(uid))));
  }
  for (const [uid, u] of x.users) {
    const want = Object.fromEntries([...u.readSeqs].map(([cid, seq]) => [cid, String(seq)]));
    expectedKeys.add(k.userReads(uid));
    diff(`redis ${k.userReads(uid)}`, sortObject(want), sortObject(await c.hgetall(k.userReads(uid))));
  }

  // Unread through the read model (the same code the gateway runs) against the domain's rule.
  const reader = new ReadModel(undefined as unknown as ParleyDatabase, redis);
  for (const uid of userConvs.keys()) {
    const want: Record<string, number> = {};
    for (const [cid, conv] of x.conversations) {
      const m = conv.state.members.get(uid);
      if (!m || !conv.state.exists) continue;
      want[cid] = unreadCount({
        lastSeq: conv.state.lastSeq,
        readSeq: x.users.get(uid)?.readSeqs.get(cid) ?? 0,
        joinSeq: m.joinSeq,
        ownLastSeq: m.ownLastSeq,
        isMember: true,
      });
    }
    const have = Object.fromEntries(
      (await reader.unread(uid)).conversations.map((u) => [u.conversationId, u.unread]),
    );
    diff(`unread of ${uid}`, sortObject(want), sortObject(have));
  }

  let cursor = '0';
  do {
    const [next, keys] = await c.scan(cursor, 'MATCH', k.pattern(), 'COUNT', 1_000);
    cursor = next;
    for (const key of keys) if (!expectedKeys.has(key)) diff(`redis ${key}`, null, 'unexpected key');
  } while (cursor !== '0');
}

function sortObject<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
