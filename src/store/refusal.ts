import { WriteRefused, type JobSetKey, type WriteGuard, type WriteRefusal } from "./store.js";

/** The same refusal, worded the same, from every adapter. */
export function refusal(reason: WriteRefusal, jobSet: JobSetKey, guard: WriteGuard): WriteRefused {
  const which = `job set ${quote(jobSet.jobSetId)} in queue ${quote(jobSet.queue)}`;
  const expected = guard.expected === undefined ? "nothing stored" : `cursor ${quote(guard.expected)}`;
  return reason === "stale"
    ? new WriteRefused(reason, `write refused: the store no longer holds what this writer last saw of ${which} (expected ${expected})`)
    : new WriteRefused(reason, `write refused: a newer lease holder has written ${which} (this writer's fencing token is ${guard.fence})`);
}

/** No job has an empty id (readers could never ask for it), so a write carrying one is refused whole, before anything is written. */
export function requireJobIds(jobSet: JobSetKey, jobIds: Iterable<string>): void {
  for (const jobId of jobIds) {
    if (jobId === "") throw new Error(`write refused: a job of job set ${quote(jobSet.jobSetId)} in queue ${quote(jobSet.queue)} has an empty job id`);
  }
}

/** Ids can be huge; a message shows their start. */
function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 120)}…` : text);
}
