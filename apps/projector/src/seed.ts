import { Logger } from '@nestjs/common';
import { parseEventSubject } from '@parley/contracts';
import { type ConversationState, restoreConversation, restoreUser, type UserState } from '@parley/domain';
import { type SnapshotStore } from '@parley/event-log';

/**
 * What the actor snapshots say about subjects whose early events left the log (DESIGN §15): the start
 * of a rebuild or a check once IM_EVENTS_MAX_AGE_MS expired anything. Each state is valid at its
 * subject's `position`; the remaining log goes on after it.
 */
export interface ProjectionSeed {
  /** Conversation states, by conversation id. */
  conversations: Map<string, { state: ConversationState; position: number }>;
  /** User states, by user id. */
  users: Map<string, { state: UserState; position: number }>;
}

/** An empty seed (nothing expired: the log alone is the truth). */
export function emptySeed(): ProjectionSeed {
  return { conversations: new Map(), users: new Map() };
}

/** The seed's position for an event subject (0: fold the subject from the log alone). */
export function seedPosition(seed: ProjectionSeed, subject: string): number {
  const owner = parseEventSubject(subject);
  if (!owner) return 0;
  return (owner.kind === 'conv' ? seed.conversations : seed.users).get(owner.id)?.position ?? 0;
}

/**
 * Reads every snapshot into a seed. Unreadable ones are logged and left out: the subject is then folded
 * from what the log still holds, and `projection check` shows what that lost.
 */
export async function loadSeed(store: SnapshotStore): Promise<ProjectionSeed> {
  const log = new Logger('seed');
  const seed = emptySeed();
  for await (const subject of store.subjects()) {
    const owner = parseEventSubject(subject);
    if (!owner) continue;
    try {
      const snapshot = await store.load(subject);
      if (!snapshot) continue;
      if (owner.kind === 'conv') {
        const state = restoreConversation(owner.id, snapshot.v, snapshot.state);
        seed.conversations.set(owner.id, { state, position: snapshot.streamSeq });
      } else {
        seed.users.set(owner.id, {
          state: restoreUser(owner.id, snapshot.v, snapshot.state),
          position: snapshot.streamSeq,
        });
      }
    } catch (err) {
      log.warn(`snapshot of ${subject} left out of the seed: ${(err as Error).message}`);
    }
  }
  return seed;
}
