import { EVENTS_STREAM } from '@parley/event-log';
import { type JetStreamManager, type StoredMsg } from 'nats';

/** A direct-get query: the last message of a subject, or the first one at or after `seq`. */
export type DirectQuery = { last_by_subj: string } | { seq: number; next_by_subj: string };

// nats.js implements direct gets on its JetStreamManager (`jsm.direct`) but leaves them out of the
// exported interface; this is the one place that reaches for it.
type WithDirect = { direct: { getMessage(stream: string, q: DirectQuery): Promise<StoredMsg> } };

/** An event of IM_EVENTS by direct get (served by any replica), or null when none matches. */
export async function directGet(jsm: JetStreamManager, query: DirectQuery): Promise<StoredMsg | null> {
  try {
    return await (jsm as unknown as WithDirect).direct.getMessage(EVENTS_STREAM, query);
  } catch (err) {
    if ((err as { code?: string }).code === '404') return null;
    throw err;
  }
}
