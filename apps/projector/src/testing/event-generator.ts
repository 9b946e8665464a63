import {
  conversationEventSubject,
  directConversationId,
  encodeEvent,
  groupConversationId,
  isParleyError,
  type ParleyEvent,
  userEventSubject,
} from '@parley/contracts';
import {
  type ConversationCommand,
  type ConversationState,
  decideConversation,
  decideUser,
  evolveConversation,
  evolveUser,
  initialConversationState,
  initialUserState,
  type UserState,
} from '@parley/domain';
import { type JetStreamClient } from 'nats';

/** A generated event and the subject it belongs on. */
export interface GeneratedEvent {
  subject: string;
  event: ParleyEvent;
}

/** Options of {@link generateEvents}. */
export interface GeneratorOptions {
  /** PRNG seed (same seed, same events). */
  seed?: number;
  /** Users (default 40). */
  users?: number;
  /** Most groups (default 25). */
  groups?: number;
  /** Event time of the first event (default a fixed instant); each event is 7 ms later. */
  startAt?: number;
}

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Realistic events, decided by the domain's own deciders (so every event is one an actor could have
 * appended): groups created, joins, leaves and removals (owners too), rejoins, group and direct
 * messages with mentions, recalls, read marks, the odd dissolved group.
 */
export function generateEvents(count: number, opts: GeneratorOptions = {}): GeneratedEvent[] {
  const rand = prng(opts.seed ?? 42);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const users = Array.from({ length: opts.users ?? 40 }, (_, i) => `u${i}`);
  const maxGroups = opts.groups ?? 25;
  const convs = new Map<string, ConversationState>();
  const userStates = new Map<string, UserState>();
  const out: GeneratedEvent[] = [];
  let at = opts.startAt ?? 1_763_800_000_000;
  let n = 0;

  const live = () => [...convs.values()].filter((c) => c.exists && !c.dissolved);
  const groups = () => live().filter((c) => c.kind === 'group');
  const decideConv = (cid: string, command: ConversationCommand) => {
    const state = convs.get(cid) ?? initialConversationState(cid);
    try {
      const d = decideConversation(state, command, { now: at, commandId: `c${n}` });
      if (d.type !== 'append') return;
      encodeEvent(d.event); // e.g. an ownerless group "dissolved by ''": not an event an actor could append
      out.push({ subject: conversationEventSubject(cid), event: d.event });
      convs.set(cid, evolveConversation(state, d.event, { streamSeq: out.length }));
    } catch (err) {
      if (!isParleyError(err)) throw err;
    }
  };

  for (let guard = 0; out.length < count && guard < count * 20; guard++) {
    n++;
    at += 7;
    const r = rand();
    const gs = groups();
    if (r < 0.03 && convs.size < maxGroups + 200) {
      const cid = groupConversationId(`grp${convs.size}`);
      if (gs.length >= maxGroups) continue;
      const members = users.filter(() => rand() < 0.15);
      decideConv(cid, { type: 'CreateGroup', by: pick(users), name: `Group ${convs.size} ☕`, members });
    } else if (r < 0.08 && gs.length > 0) {
      const g = pick(gs);
      const current = [...g.members.keys()];
      const by = rand() < 0.5 || current.length === 0 ? pick(users) : pick(current);
      const userIds = rand() < 0.5 ? [by] : users.filter(() => rand() < 0.05);
      if (userIds.length > 0) decideConv(g.conversationId, { type: 'JoinGroup', by, userIds });
    } else if (r < 0.12 && gs.length > 0) {
      const g = pick(gs);
      if (g.members.size === 0) continue;
      const userId = pick([...g.members.keys()]);
      const by = rand() < 0.7 ? userId : g.owner;
      decideConv(g.conversationId, { type: 'LeaveGroup', by, userId });
    } else if (r < 0.123 && gs.length > 3) {
      const g = pick(gs);
      decideConv(g.conversationId, { type: 'DissolveGroup', by: g.owner });
    } else if (r < 0.15) {
      const withMessages = live().filter((c) => c.lastSeq > 0);
      if (withMessages.length === 0) continue;
      const c = pick(withMessages);
      const seq = Math.max(1, c.lastSeq - Math.floor(rand() * 5));
      const by = c.window.recallable(seq)?.from ?? c.owner;
      decideConv(c.conversationId, { type: 'RecallMessage', by, seq });
    } else if (r < 0.3) {
      const c = pick(live().length > 0 ? live() : [...convs.values()]);
      if (!c || c.members.size === 0) continue;
      const uid = pick([...c.members.keys()]);
      const m = c.members.get(uid)!;
      const state = userStates.get(uid) ?? initialUserState(uid);
      try {
        const { decision } = decideUser(
          state,
          { type: 'MarkRead', conversationId: c.conversationId, seq: Math.floor(rand() * (c.lastSeq + 2)) },
          {
            exists: c.exists,
            isMember: true,
            joinSeq: m.joinSeq,
            lastSeq: c.lastSeq,
            ownLastSeq: m.ownLastSeq,
            dissolved: c.dissolved,
          },
          { now: at, commandId: `c${n}` },
        );
        if (decision.type === 'append') {
          out.push({ subject: userEventSubject(uid), event: decision.event });
          userStates.set(uid, evolveUser(state, decision.event));
        }
      } catch (err) {
        if (!isParleyError(err)) throw err;
      }
    } else {
      const direct = rand() < 0.2 || gs.length === 0;
      const [a, b] = [pick(users), pick(users.slice(0, 10))];
      if (direct && a === b) continue;
      const cid = direct ? directConversationId(a, b) : pick(gs).conversationId;
      const c = convs.get(cid) ?? initialConversationState(cid);
      if (c.members.size === 0) continue;
      const from = pick([...c.members.keys()]);
      const mentions = rand() < 0.2 ? [pick([...c.members.keys()])] : [];
      const body = rand() < 0.05 ? `long ${'é'.repeat(300)}` : `hello ${n} from ${from}`;
      decideConv(cid, { type: 'SendMessage', from, clientMsgId: `m-${n}`, kind: 'text', body, mentions });
    }
  }
  return out.slice(0, count);
}

/** Publishes events in order (one connection keeps per-subject order), `inFlight` at a time. */
export async function publishEvents(
  js: JetStreamClient,
  events: GeneratedEvent[],
  inFlight = 256,
): Promise<number> {
  let pending: Array<Promise<{ seq: number }>> = [];
  let last = 0;
  for (const e of events) {
    pending.push(js.publish(e.subject, encodeEvent(e.event)));
    if (pending.length >= inFlight) {
      last = Math.max(last, ...(await Promise.all(pending)).map((a) => a.seq));
      pending = [];
    }
  }
  if (pending.length > 0) last = Math.max(last, ...(await Promise.all(pending)).map((a) => a.seq));
  return last;
}
