import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse } from '@nestjs/swagger';
import { ErrorDto } from './dto';

const MEANING: Record<number, string> = {
  400: 'INVALID_ARGUMENT: malformed JSON, a bad id or field',
  401: 'UNAUTHENTICATED: missing, expired or invalid token',
  403: 'FORBIDDEN: not a member, or not allowed',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS or CONFLICT',
  410: 'GONE: the group was dissolved',
  413: 'PAYLOAD_TOO_LARGE',
  429: 'RATE_LIMITED: see Retry-After',
  503: 'UNAVAILABLE: no actor host answered in time',
};

/** Documents a bearer-authenticated route and the error answers it can give. */
export function ApiErrors(...statuses: number[]) {
  return applyDecorators(
    ApiBearerAuth(),
    ...[400, 401, 429, ...statuses].map((status) =>
      ApiResponse({ status, description: MEANING[status], type: ErrorDto }),
    ),
  );
}
