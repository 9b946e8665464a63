import { type PartitionLeases } from './partition-leases';

/**
 * Faults for tests, kept out of the production class. A paused host (a GC pause, a lost connection):
 * no more renewals, nothing released, the leases still look held; `canServe` turns false once their
 * validity ends.
 */
export function suspendLeases(leases: PartitionLeases): void {
  leases.halt();
}

/** A crashed host: the loop stops without writing anything and forgets its leases; they expire after the ttl. */
export function abandonLeases(leases: PartitionLeases): void {
  leases.halt();
  leases.gate.dropAll();
}
