import { effectiveRetentionMs, mayBeDeletedByRetention, type ParleyDatabase } from '@parley/read-model';
import { type Diff } from './difference';
import { type ExpectedState } from './expected';

/** The history retention a check allows for (see {@link mayBeDeletedByRetention}). */
export interface CheckRetention {
  /** `IM_HISTORY_RETENTION_MS` (0 = keep: every message must be in MySQL). */
  historyRetentionMs: number;
  /** Clock skew allowed between the checker and the retention job, in ms (default 60 s). */
  marginMs?: number;
  /** The clock (tests pin it). */
  now?: () => number;
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());

/** Compares every MySQL row of the history projection with the expected state. */
export async function checkHistory(
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
