import { type SentRef } from './conversation.state';

/** What the window remembers of one message (for recall checks). */
export interface WindowMessage {
  /** Sender. */
  from: string;
  /** When it was sent (epoch ms). */
  at: number;
  /** Already recalled. */
  recalled: boolean;
}

/** How long the window keeps messages for each of its two uses. */
export interface WindowLimits {
  /** Dedup answers: how long (ms of event time) and how many sends. */
  dedupWindowMs: number;
  maxDedupEntries: number;
  /** Recall checks: how long and how many messages. */
  recallWindowMs: number;
  maxRecallEntries: number;
}

/** The JSON form of a window: columns, oldest first (`at` and `streamSeq` as deltas from the previous). */
export interface MessageWindowJson {
  /** Seq of the oldest message held. */
  first: number;
  /** Oldest seq still answered as a duplicate, and oldest still recallable. */
  dedupFrom: number;
  recallFrom: number;
  senders: string[];
  /** Per message: index into `senders`, client message id, event time and stream seq (deltas). */
  from: number[];
  clientMsgIds: string[];
  at: number[];
  streamSeq: number[];
  /** Seqs of recalled messages still held. */
  recalled: number[];
}

const GROW = 1.5;

/**
 * The latest messages of a conversation, remembered for dedup answers (`(from, clientMsgId)` → the
 * original) and recall checks, in parallel typed arrays instead of an object per message: about a
 * third of the memory of maps of objects, which matters for a busy group whose 24 h windows hold
 * thousands of messages. Each use drops messages from its own front while they are too old or too
 * many (exactly as two separate memories would); storage holds from the older of the two fronts.
 */
export class MessageWindow {
  private first = 1; // seq of the oldest message held (slot `head`)
  private count = 0;
  private head = 0;
  private dedupFrom = 1;
  private recallFrom = 1;
  private at = new Float64Array(16);
  private streamSeq = new Float64Array(16);
  private from = new Int32Array(16);
  private recalled = new Uint8Array(16);
  private clientMsgIds: string[] = new Array<string>(16);
  private readonly keys = new Map<string, number>();
  private readonly senders: string[] = [];
  private readonly senderIndex = new Map<string, number>();

  /** Messages answered as duplicates (inside the dedup window). */
  get dedupSize(): number {
    return this.keys.size;
  }

  /** Messages that may still be recalled (inside the recall window). */
  get recallSize(): number {
    return Math.max(0, this.first + this.count - this.recallFrom);
  }

  /**
   * Approximate bytes held: the columns as allocated (29 bytes a slot), each held message's client id
   * (~40) and each remembered send's key string and map entry (~80), for ids of typical length.
   */
  get approximateBytes(): number {
    return 256 + this.at.length * 29 + this.count * 40 + this.keys.size * 80;
  }

  /** Remembers the next message (seq one past the last held, or any seq when empty) and forgets by the limits. */
  push(
    m: { seq: number; from: string; clientMsgId: string; streamSeq: number; at: number },
    limits: WindowLimits,
  ): void {
    if (this.count === 0) this.first = this.dedupFrom = this.recallFrom = m.seq;
    else if (m.seq !== this.first + this.count) {
      // A gap cannot happen in a log with seq 1, 2, 3…; start over rather than misplace messages.
      this.clear();
      this.first = this.dedupFrom = this.recallFrom = m.seq;
    }
    if (this.count === this.at.length) this.grow();
    const slot = (this.head + this.count) % this.at.length;
    this.at[slot] = m.at;
    this.streamSeq[slot] = m.streamSeq;
    this.from[slot] = this.sender(m.from);
    this.recalled[slot] = 0;
    this.clientMsgIds[slot] = m.clientMsgId;
    this.count++;
    this.keys.set(key(m.from, m.clientMsgId), m.seq);
    this.forget(m.at, limits);
  }

  /** The original of a send still inside the dedup window. */
  original(from: string, clientMsgId: string): SentRef | undefined {
    const seq = this.keys.get(key(from, clientMsgId));
    if (seq === undefined) return undefined;
    const slot = this.slot(seq);
    return { seq, streamSeq: this.streamSeq[slot], at: this.at[slot] };
  }

  /** A message still inside the recall window. */
  recallable(seq: number): WindowMessage | undefined {
    if (seq < this.recallFrom || seq >= this.first + this.count) return undefined;
    const slot = this.slot(seq);
    return { from: this.senders[this.from[slot]], at: this.at[slot], recalled: this.recalled[slot] === 1 };
  }

  /** Marks a held message recalled (nothing when it is no longer held). */
  markRecalled(seq: number): void {
    if (seq >= this.first && seq < this.first + this.count) this.recalled[this.slot(seq)] = 1;
  }

  /** The JSON form. */
  toJSON(): MessageWindowJson {
    const out: MessageWindowJson = {
      first: this.first,
      dedupFrom: this.dedupFrom,
      recallFrom: this.recallFrom,
      senders: [...this.senders],
      from: [],
      clientMsgIds: [],
      at: [],
      streamSeq: [],
      recalled: [],
    };
    let at = 0;
    let streamSeq = 0;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) % this.at.length;
      out.from.push(this.from[slot]);
      out.clientMsgIds.push(this.clientMsgIds[slot]);
      out.at.push(this.at[slot] - at);
      out.streamSeq.push(this.streamSeq[slot] - streamSeq);
      [at, streamSeq] = [this.at[slot], this.streamSeq[slot]];
      if (this.recalled[slot]) out.recalled.push(this.first + i);
    }
    return out;
  }

  /** A window from its JSON form; throws on anything inconsistent. */
  static fromJSON(j: MessageWindowJson): MessageWindow {
    const w = new MessageWindow();
    const n = j.from.length;
    const ok =
      j.clientMsgIds.length === n &&
      j.at.length === n &&
      j.streamSeq.length === n &&
      j.first >= 1 &&
      j.dedupFrom >= j.first &&
      j.recallFrom >= j.first &&
      j.dedupFrom <= j.first + n &&
      j.recallFrom <= j.first + n &&
      j.from.every((f) => Number.isInteger(f) && f >= 0 && f < j.senders.length);
    if (!ok) throw new Error('window columns do not fit together');
    for (const s of j.senders) w.sender(s);
    w.first = j.first;
    w.dedupFrom = j.dedupFrom;
    w.recallFrom = j.recallFrom;
    let at = 0;
    let streamSeq = 0;
    while (w.at.length < n) w.grow();
    for (let i = 0; i < n; i++) {
      at += j.at[i];
      streamSeq += j.streamSeq[i];
      w.at[i] = at;
      w.streamSeq[i] = streamSeq;
      w.from[i] = j.from[i];
      w.clientMsgIds[i] = j.clientMsgIds[i];
      if (j.first + i >= j.dedupFrom) w.keys.set(key(j.senders[j.from[i]], j.clientMsgIds[i]), j.first + i);
    }
    w.count = n;
    for (const seq of j.recalled) w.markRecalled(seq);
    return w;
  }

  private forget(now: number, limits: WindowLimits): void {
    const end = this.first + this.count;
    // Dedup: forget from its front while too old or too many (the key leaves with it).
    while (
      this.dedupFrom < end &&
      (end - this.dedupFrom > limits.maxDedupEntries ||
        this.at[this.slot(this.dedupFrom)] < now - limits.dedupWindowMs)
    ) {
      const slot = this.slot(this.dedupFrom);
      const k = key(this.senders[this.from[slot]], this.clientMsgIds[slot]);
      if (this.keys.get(k) === this.dedupFrom) this.keys.delete(k);
      this.dedupFrom++;
    }
    while (
      this.recallFrom < end &&
      (end - this.recallFrom > limits.maxRecallEntries ||
        this.at[this.slot(this.recallFrom)] < now - limits.recallWindowMs)
    ) {
      this.recallFrom++;
    }
    // Storage keeps what either use still needs.
    const keep = Math.min(this.dedupFrom, this.recallFrom);
    while (this.first < keep) {
      this.clientMsgIds[this.head] = '';
      this.head = (this.head + 1) % this.at.length;
      this.first++;
      this.count--;
    }
  }

  private slot(seq: number): number {
    return (this.head + (seq - this.first)) % this.at.length;
  }

  private sender(from: string): number {
    let i = this.senderIndex.get(from);
    if (i === undefined) {
      i = this.senders.push(from) - 1;
      this.senderIndex.set(from, i);
    }
    return i;
  }

  private grow(): void {
    const size = Math.ceil(this.at.length * GROW) + 16;
    const order = Array.from({ length: this.count }, (_, i) => (this.head + i) % this.at.length);
    const copy = <T extends Float64Array | Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(size);
      order.forEach((slot, i) => (b[i] = a[slot]));
      return b;
    };
    this.at = copy(this.at, (n) => new Float64Array(n));
    this.streamSeq = copy(this.streamSeq, (n) => new Float64Array(n));
    this.from = copy(this.from, (n) => new Int32Array(n));
    this.recalled = copy(this.recalled, (n) => new Uint8Array(n));
    const ids = new Array<string>(size);
    order.forEach((slot, i) => (ids[i] = this.clientMsgIds[slot]));
    this.clientMsgIds = ids;
    this.head = 0;
  }

  private clear(): void {
    this.count = 0;
    this.head = 0;
    this.keys.clear();
  }
}

function key(from: string, clientMsgId: string): string {
  return `${from}\u0000${clientMsgId}`;
}
