import { ErrorCode, ParleyError } from './errors';

/**
 * FNV-1a, 32 bit, over the UTF-8 bytes of `text`: the hash that places actors on partitions. It is part
 * of the contract so other services can compute an actor's partition in a few lines (docs/scale-out.md).
 */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** The placement key of a conversation actor: `conv:<conversationId>`. */
export function conversationActorKey(conversationId: string): string {
  return `conv:${conversationId}`;
}

/** The placement key of a user actor: `user:<userId>`. */
export function userActorKey(userId: string): string {
  return `user:${userId}`;
}

/** The partition (0 … partitions-1) of an actor key: `fnv1a32(key) mod partitions`. */
export function partitionOf(actorKey: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new ParleyError(
      ErrorCode.INVALID_ARGUMENT,
      `partitions must be a positive integer, got ${partitions}`,
    );
  }
  return fnv1a32(actorKey) % partitions;
}
