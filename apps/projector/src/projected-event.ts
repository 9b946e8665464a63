import { type ParleyEvent } from '@parley/contracts';

/** An event as a projection receives it: the decoded event and its position in IM_EVENTS. */
export interface ProjectedEvent {
  /** The decoded event. */
  event: ParleyEvent;
  /** Its JetStream stream seq: the version every keyed write compares. */
  streamSeq: number;
}
