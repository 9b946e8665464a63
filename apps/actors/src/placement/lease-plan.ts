import { fnv1a32 } from '@parley/contracts';
import { type LeaseSlot, ownerOf } from './lease-bucket';

/** A snapshot of the bucket, as one host saw it. */
export interface LeaseView {
  /** Owner of each partition ('' = free). */
  owners: string[];
  /** Hosts with a live presence key. */
  hosts: string[];
}

/** What a host holds, as the plan needs it: partition → the revision it last wrote. */
export type HeldRevisions = ReadonlyMap<number, number>;

/** The view of a scan: owners, and the live hosts (always counting this one), sorted. */
export function viewOf(hostId: string, scan: { slots: LeaseSlot[]; hosts: string[] }): LeaseView {
  return {
    owners: scan.slots.map(ownerOf),
    hosts: [...new Set([hostId, ...scan.hosts])].sort(),
  };
}

/** The fair share of each live host: `ceil(partitions / hosts)`. */
export function fairShare(partitions: number, hosts: number): number {
  return Math.ceil(partitions / Math.max(1, hosts));
}

/**
 * Keys that changed owner since this host looked: `adopt` names this host but is not held (a handoff to
 * it, or left by an earlier run with the same id); `lost` is held but was rewritten naming someone else.
 */
export function planTakeovers(
  hostId: string,
  slots: LeaseSlot[],
  held: HeldRevisions,
): { adopt: number[]; lost: number[] } {
  const adopt: number[] = [];
  slots.forEach((s, p) => {
    if (s && ownerOf(s) === hostId && !held.has(p)) adopt.push(p);
  });
  const lost = [...held].filter(([p, revision]) => {
    const s = slots[p];
    return !!s && s.revision > revision && ownerOf(s) !== hostId;
  });
  return { adopt, lost: lost.map(([p]) => p) };
}

/**
 * Toward the fair share: a host above it hands its highest partitions to the live hosts below it, most
 * starved first; a host below it creates free keys (absent ones, or deleted ones where CAS is safe) in
 * an order of its own, so hosts starting together spread out.
 */
export function planBalance(input: {
  hostId: string;
  partitions: number;
  view: LeaseView;
  slots: LeaseSlot[];
  held: number[];
  casSafe: boolean;
}): { handOff: Array<[number, string]>; acquire: number[] } {
  const { hostId, view, held } = input;
  const share = fairShare(input.partitions, view.hosts.length);
  const mine = held.length;
  if (mine > share) {
    const counts = ownerCounts(view);
    const deficits = view.hosts
      .filter((h) => h !== hostId)
      .map((h) => ({ host: h, want: share - (counts.get(h) ?? 0) }))
      .filter((d) => d.want > 0)
      .sort((a, b) => b.want - a.want);
    const handOff: Array<[number, string]> = [];
    const give = [...held].sort((a, b) => b - a);
    for (const d of deficits) {
      while (d.want > 0 && handOff.length < mine - share && give.length > 0) {
        handOff.push([give.shift()!, d.host]);
        d.want--;
      }
    }
    return { handOff, acquire: [] };
  }
  if (mine < share) {
    const acquire = input.slots
      .map((s, p) => ({ p, s }))
      .filter(({ s }) => !s || (s.deleted && input.casSafe))
      .sort((a, b) => rank(hostId, a.p) - rank(hostId, b.p))
      .slice(0, share - mine)
      .map(({ p }) => p);
    return { handOff: [], acquire };
  }
  return { handOff: [], acquire: [] };
}

/**
 * Where a stopping host's partitions go: round robin over the other live hosts, least loaded first;
 * `null` (release the key) when no other host is alive.
 */
export function planStop(hostId: string, view: LeaseView, held: number[]): Array<[number, string | null]> {
  const counts = ownerCounts(view);
  const targets = view.hosts
    .filter((h) => h !== hostId)
    .sort((a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0));
  return held.map((p, i) => [p, targets.length > 0 ? targets[i % targets.length] : null]);
}

function ownerCounts(view: LeaseView): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of view.owners) if (o) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

/** A host-specific order of partitions (so racing hosts try different keys first). */
export function rank(hostId: string, p: number): number {
  return fnv1a32(`${hostId}/${p}`);
}
