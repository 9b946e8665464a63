import { ErrorCode, ParleyError } from '@parley/contracts';

/** Validates a page size against `IM_PAGE_SIZE_MAX` (400 beyond it; the default applies when absent). */
export function pageLimit(limit: number | undefined, max: number): number | undefined {
  if (limit === undefined) return undefined;
  if (limit < 1 || limit > max) {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `limit must be between 1 and ${max}`);
  }
  return limit;
}
