import { type PipeTransform } from '@nestjs/common';
import { parseWith } from '@parley/contracts';
import { type z } from 'zod';

/**
 * Validates a body, query or param with a zod schema; a violation is INVALID_ARGUMENT (400) naming each
 * field, or PAYLOAD_TOO_LARGE (413) for a body over the limit (the contracts' `parseWith`).
 */
export class ZodPipe<S extends z.ZodTypeAny> implements PipeTransform<unknown, z.output<S>> {
  constructor(
    private readonly schema: S,
    private readonly what: string,
  ) {}

  transform(value: unknown): z.output<S> {
    return parseWith(this.schema, value, this.what);
  }
}
