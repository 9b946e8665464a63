import { unreadCount } from '@parley/domain';
import { decodeMembership, messagePreview, type ParleyRedis, ReadStateQueries } from '@parley/read-model';
import { type Diff, sortObject } from './difference';
import { type ExpectedState } from './expected';

/** Compares every Redis key of the counters projection, and each user's unread, with the expected state. */
export async function checkCounters(
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
  const reader = new ReadStateQueries(redis);
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
