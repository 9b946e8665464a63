import { isTransientNatsError } from '@parley/event-log';

// MySQL errors that mean "try again later", not "this data is wrong".
const RETRYABLE_MYSQL = new Set([
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_SERVER_SHUTDOWN',
  'ER_CON_COUNT_ERROR',
  'ER_TOO_MANY_USER_CONNECTIONS',
  'ER_QUERY_INTERRUPTED',
  'ER_CONNECTION_KILLED',
  'ER_OUT_OF_RESOURCES',
  'ER_LOCK_TABLE_FULL',
  'ER_CANT_LOCK',
  'ER_NET_READ_ERROR',
  'ER_NET_WRITE_INTERRUPTED',
  'ER_NET_READ_INTERRUPTED',
  'ER_NET_ERROR_ON_WRITE',
]);

const REDIS_DOWN =
  /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Command timed out|LOADING|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY|max retries per request|Reached the max retries/i;

/**
 * True when an error says "MySQL, Redis or NATS is unreachable or busy" rather than "this event is
 * bad": such failures are retried with backoff for as long as it takes and never make an event poison.
 * A programming error (TypeError…) or a data error (ER_DATA_TOO_LONG…) is not transient.
 */
export function isTransientStoreError(err: unknown): boolean {
  if (isTransientNatsError(err)) return true;
  const e = err as {
    code?: unknown;
    fatal?: unknown;
    name?: unknown;
    message?: unknown;
    driverError?: unknown;
  };
  if (!e || typeof e !== 'object') return false;
  if (e.driverError && e.driverError !== err && isTransientStoreError(e.driverError)) return true;
  if (e.fatal === true) return true;
  if (typeof e.code === 'string') {
    if (RETRYABLE_MYSQL.has(e.code)) return true;
    // Socket-level codes (ECONNREFUSED, PROTOCOL_CONNECTION_LOST, ETIMEDOUT…) are never about the data.
    if (/^(E[A-Z]+|PROTOCOL_[A-Z_]+)$/.test(e.code)) return true;
  }
  if (e.name === 'MaxRetriesPerRequestError') return true;
  const message = typeof e.message === 'string' ? e.message : '';
  if (REDIS_DOWN.test(message)) return true;
  // TypeORM's pool wrapper when no connection can be made.
  return /Connection lost|connect ECONNREFUSED|Pool is closed|Too many connections/i.test(message);
}
