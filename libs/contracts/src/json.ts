import { type z } from 'zod';
import { ErrorCode, ParleyError } from './errors';

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Encodes a value as UTF-8 JSON. */
export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** Parses UTF-8 JSON; malformed input is INVALID_ARGUMENT, input over `maxBytes` is PAYLOAD_TOO_LARGE. */
export function decodeJson(data: Uint8Array | string, maxBytes = Number.POSITIVE_INFINITY): unknown {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  if (size > maxBytes)
    throw new ParleyError(ErrorCode.PAYLOAD_TOO_LARGE, `payload is ${size} bytes, the limit is ${maxBytes}`);
  try {
    return JSON.parse(typeof data === 'string' ? data : decoder.decode(data));
  } catch (err) {
    throw new ParleyError(ErrorCode.INVALID_ARGUMENT, `malformed JSON: ${(err as Error).message}`);
  }
}

/** Marks a zod issue as a size violation, so it maps to PAYLOAD_TOO_LARGE instead of INVALID_ARGUMENT. */
export const TOO_LARGE = { parleyCode: ErrorCode.PAYLOAD_TOO_LARGE } as const;

/** Validates with a schema and turns zod issues into one ParleyError naming each field path. */
export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const tooLarge = r.error.issues.some(
    (i) =>
      i.code === 'custom' &&
      (i.params as { parleyCode?: string } | undefined)?.parleyCode === ErrorCode.PAYLOAD_TOO_LARGE,
  );
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
  throw new ParleyError(
    tooLarge ? ErrorCode.PAYLOAD_TOO_LARGE : ErrorCode.INVALID_ARGUMENT,
    `invalid ${what}: ${problems}`,
  );
}
