import { type NatsError } from 'nats';

/** JetStream API error code for "wrong last sequence" (the expected-last-subject-sequence guard failed). */
export const JS_WRONG_LAST_SEQUENCE = 10071;

/** Thrown by an append whose expected last subject sequence was stale: another writer appended first. */
export class ConcurrencyError extends Error {
  override readonly name = 'ConcurrencyError';
  constructor(
    readonly subject: string,
    readonly expectedLastSubjectSeq: number,
    cause?: unknown,
  ) {
    super(
      `append to ${subject} expected last subject sequence ${expectedLastSubjectSeq}, another writer was first`,
      {
        cause,
      },
    );
  }
}

/** Thrown when the log cannot be reached within the bounded retry budget (no leader, server down). */
export class LogUnavailableError extends Error {
  override readonly name = 'LogUnavailableError';
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
  }
}

/** The JetStream API error code carried by a NatsError, if any. */
export function jetStreamErrorCode(err: unknown): number | undefined {
  const api = (err as NatsError | undefined)?.api_error;
  return api?.err_code;
}

/** True for errors worth retrying with the same Nats-Msg-Id: no responders (503), timeouts, lost connection. */
export function isTransientNatsError(err: unknown): boolean {
  const code = (err as NatsError | undefined)?.code;
  if (code === undefined) return false;
  if (jetStreamErrorCode(err) !== undefined) {
    // JetStream answered with an API error; only "temporarily unavailable" classes are retried.
    return code === '503';
  }
  return [
    '503',
    'TIMEOUT',
    'CONNECTION_CLOSED',
    'CONNECTION_DRAINING',
    'DISCONNECT',
    'CONNECTION_REFUSED',
  ].includes(String(code));
}

/** True when the server refused a publish or subscription to this connection's user. */
export function isPermissionError(err: unknown): boolean {
  return (err as NatsError | undefined)?.code === 'PERMISSIONS_VIOLATION';
}
