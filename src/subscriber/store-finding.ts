import type { Lease, StoredMark } from "../store/store.js";
import type { StoredProgress } from "./batcher.js";

/**
 * What a job set's owner can find the store to have done to what it wrote:
 * dropped the job set ("lost": eviction, flush, a restart without data) or
 * gone back to an older state of it ("rolled-back": a replica promoted
 * behind its master, a restart from an older snapshot).
 */
export type StoreFinding = "lost" | "rolled-back";

/**
 * What a lease renewal shows, given what this replica last knew the store to
 * hold for the job set (`held`). Nothing when it knew nothing, when one of its
 * writes overlapped the renewal (the store may hold either side of it; that
 * write's own guard tells), or when a newer owner has written since.
 */
export function judgeRenewal(held: StoredMark | undefined, lease: Lease, overlapped: boolean): StoreFinding | undefined {
  if (held === undefined || overlapped) return undefined;
  if (lease.holds === undefined) return lease.stored ? undefined : "lost";
  if (lease.holds.fence > held.fence) return undefined;
  return lease.holds.cursor === held.cursor ? undefined : "rolled-back";
}

/**
 * What reading the store again confirms. A job set the subscription knew to
 * be stored and that is gone was lost, whatever was suspected. A suspected
 * rollback is one unless the store turns out to hold what the subscription
 * last wrote after all, or it had written nothing; with nothing known (a
 * subscription just started), the suspicion of the lease loop stands.
 */
export function confirmFinding(known: StoredProgress | undefined, found: StoredProgress, suspected: StoreFinding | undefined): StoreFinding | undefined {
  if (!found.stored) return known?.stored || suspected === "lost" ? "lost" : undefined;
  if (suspected === undefined) return undefined;
  // Nothing written yet (a rebuild's first write refused), or written exactly what is found: not a rollback.
  if (known !== undefined && (!known.stored || found.cursor === known.cursor)) return undefined;
  return "rolled-back";
}
