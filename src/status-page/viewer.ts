import type { StatusViewer } from "./view-model.js";
import type { Caller, QueueCheck, Target } from "../auth/identity.js";

/** The most distinct queues one page view asks about; the rest stay hidden from it. */
export const MAX_QUEUES_PER_VIEW = 200;

/**
 * What a status page viewer may see when callers must prove who they are:
 * without credentials, counts only; with them, the job sets of each queue
 * the same check that guards the RPCs lets them watch. Each followed queue
 * is asked about once, through a job set of it (Armada's check needs one);
 * the checks' own caches make a page refresh cost nothing.
 */
export async function statusViewerFor(check: QueueCheck, authorization: string | null, followed: Iterable<Target>): Promise<StatusViewer> {
  if (!authorization) return { anonymousCountsOnly: true };
  const oneJobSetPerQueue = new Map<string, Target>();
  for (const target of followed) {
    if (oneJobSetPerQueue.size >= MAX_QUEUES_PER_VIEW) break;
    if (!oneJobSetPerQueue.has(target.queue)) oneJobSetPerQueue.set(target.queue, { queue: target.queue, jobSetId: target.jobSetId });
  }
  const caller: Caller = { authorization, transport: { remoteAddress: "" } };
  const allowed = new Set<string>();
  await Promise.all(
    [...oneJobSetPerQueue.values()].map(async (target) => {
      try {
        await check(caller, target);
        allowed.add(target.queue);
      } catch {
        // Refused, or not decidable now: not shown.
      }
    }),
  );
  return { anonymousCountsOnly: false, mayWatch: (queue) => allowed.has(queue) };
}
