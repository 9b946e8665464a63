import { headers, type JetStreamClient, type JsMsg } from 'nats';
import { DEAD_LETTER_SUBJECT_PREFIX } from './streams';

/** A poison message as recorded in the IM_DEADLETTER stream (`im.dlq.<consumer>`). */
export interface DeadLetterRecord {
  /** Stream the message came from. */
  stream: string;
  /** Durable consumer that gave up on it. */
  consumer: string;
  /** Original subject. */
  subject: string;
  /** Original stream sequence. */
  streamSeq: number;
  /** How many times it was delivered. */
  deliveries: number;
  /** Why it was given up: the decode error or the handler's last error. */
  reason: string;
  /** When it was recorded (epoch ms). */
  at: number;
  /** The original payload, base64. */
  dataBase64: string;
}

/** Subject a consumer's dead letters are recorded on. */
export function deadLetterSubject(consumer: string): string {
  return `${DEAD_LETTER_SUBJECT_PREFIX}.${consumer}`;
}

/**
 * Records a poison message durably before it is terminated, so an operator can inspect and replay it
 * (`nats stream view IM_DEADLETTER`). Recording is idempotent per (consumer, stream seq).
 */
export async function recordDeadLetter(
  js: JetStreamClient,
  stream: string,
  consumer: string,
  m: JsMsg,
  reason: string,
): Promise<DeadLetterRecord> {
  const record: DeadLetterRecord = {
    stream,
    consumer,
    subject: m.subject,
    streamSeq: m.seq,
    deliveries: m.info.redeliveryCount,
    reason: reason.slice(0, 2_000),
    at: Date.now(),
    dataBase64: Buffer.from(m.data).toString('base64'),
  };
  const h = headers();
  h.set('Im-Dlq-Stream', stream);
  h.set('Im-Dlq-Seq', String(m.seq));
  await js.publish(deadLetterSubject(consumer), JSON.stringify(record), {
    msgID: `dlq:${consumer}:${m.seq}`,
    headers: h,
  });
  return record;
}

/** Decodes a record read back from the dead-letter stream. */
export function decodeDeadLetter(data: Uint8Array): DeadLetterRecord {
  return JSON.parse(Buffer.from(data).toString('utf8')) as DeadLetterRecord;
}
