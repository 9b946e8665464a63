import { HttpException, HttpStatus } from '@nestjs/common';
import { ErrorCode, isParleyError } from '@parley/contracts';

/** The body of every error answer (DESIGN §7). */
export interface ErrorBody {
  /** A stable code and a human-readable message. */
  error: { code: string; message: string };
}

/** HTTP status of each Parley error code. */
export const STATUS_OF: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: HttpStatus.BAD_REQUEST,
  NOT_FOUND: HttpStatus.NOT_FOUND,
  ALREADY_EXISTS: HttpStatus.CONFLICT,
  CONFLICT: HttpStatus.CONFLICT,
  FORBIDDEN: HttpStatus.FORBIDDEN,
  GONE: HttpStatus.GONE,
  PAYLOAD_TOO_LARGE: HttpStatus.PAYLOAD_TOO_LARGE,
  UNAVAILABLE: HttpStatus.SERVICE_UNAVAILABLE,
};

/** Codes of the gateway's own refusals, next to the domain's. */
export const GatewayCode = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  RATE_LIMITED: 'RATE_LIMITED',
  INTERNAL: 'INTERNAL',
} as const;

/** An HTTP refusal carrying a code, for the gateway's own checks (authentication, rate limit). */
export class GatewayHttpError extends HttpException {
  constructor(
    status: number,
    readonly code: string,
    message: string,
    /** Extra response headers (e.g. Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super({ error: { code, message } }, status);
  }
}

/** Status and body for anything thrown while handling a request. */
export function toHttpError(err: unknown): {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
} {
  if (isParleyError(err)) {
    return {
      status: STATUS_OF[err.code],
      body: { error: { code: err.code, message: err.message } },
      headers: {},
    };
  }
  if (err instanceof GatewayHttpError) {
    return { status: err.getStatus(), body: err.getResponse() as ErrorBody, headers: err.headers };
  }
  if (err instanceof HttpException) {
    const status = err.getStatus();
    const code =
      status === 404
        ? ErrorCode.NOT_FOUND
        : status === 413
          ? ErrorCode.PAYLOAD_TOO_LARGE
          : status < 500
            ? ErrorCode.INVALID_ARGUMENT
            : GatewayCode.INTERNAL;
    return { status, body: { error: { code, message: err.message } }, headers: {} };
  }
  // body-parser errors carry `type` and `status`.
  const parser = err as { type?: string; status?: number; message?: string };
  if (parser?.type === 'entity.too.large') {
    return {
      status: 413,
      body: { error: { code: ErrorCode.PAYLOAD_TOO_LARGE, message: 'request body too large' } },
      headers: {},
    };
  }
  if (parser?.type === 'entity.parse.failed' || (parser?.status === 400 && parser.type)) {
    return {
      status: 400,
      body: {
        error: { code: ErrorCode.INVALID_ARGUMENT, message: `malformed JSON: ${parser.message ?? ''}` },
      },
      headers: {},
    };
  }
  return {
    status: 500,
    body: { error: { code: GatewayCode.INTERNAL, message: 'internal error' } },
    headers: {},
  };
}
