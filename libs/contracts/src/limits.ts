/** Size limits enforced by the schemas. */
export interface Limits {
  /** Largest message body, in UTF-8 bytes (`IM_MAX_BODY_BYTES`). */
  maxBodyBytes: number;
}

/** The defaults of DESIGN §3: 16 KiB bodies. */
export const DEFAULT_LIMITS: Limits = { maxBodyBytes: 16 * 1024 };

/** Most user ids in one create or join command. */
export const MAX_MEMBERS_PER_COMMAND = 1_000;
/** Most mentions in one message. */
export const MAX_MENTIONS = 100;
/** Longest group name, in characters. */
export const MAX_GROUP_NAME = 128;

/** Largest raw command or event accepted before parsing: the body limit plus room for the envelope. */
export function maxRawBytes(limits: Limits): number {
  return limits.maxBodyBytes * 4 + 64 * 1024;
}
