import { ErrorCode, errorReply, isParleyError, type Reply } from '@parley/contracts';
import { isTransientNatsError, LogUnavailableError } from '@parley/event-log';

/** The reply to a failed command: refusals keep their code, infrastructure trouble is UNAVAILABLE. */
export function replyForError(err: unknown): Reply {
  if (isParleyError(err)) return errorReply(err.code, err.message);
  if (err instanceof LogUnavailableError) return errorReply(ErrorCode.UNAVAILABLE, err.message);
  return errorReply(ErrorCode.UNAVAILABLE, 'internal error, try again');
}

/** True for failures worth retrying later (the log is unreachable), as opposed to refusals and bugs. */
export function isInfrastructureError(err: unknown): boolean {
  return err instanceof LogUnavailableError || isTransientNatsError(err);
}
