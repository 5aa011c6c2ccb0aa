import { answerFor, type JobStatusSource } from "../answers/answer.js";
import type { JobSetProgress, JobStoreReader } from "../store/store.js";

export interface EdgeSourceOptions {
  readonly store: JobStoreReader;
  /**
   * A followed job set's progress is rewritten at least every stream idle
   * limit (JOBSERVICE_STREAM_IDLE_TIMEOUT_MS) by its owner; older progress
   * means no full service follows it any more.
   */
  readonly staleAfterMs: number;
  readonly now: () => number;
}

const NOT_FOLLOWED = "no job service follows this job set yet: ask the full service about it once (GetJobStatus, or WatchJobSet to keep it followed)";

/**
 * Answers from the store alone, by the full service's rules, plus what only
 * the edge must say: it cannot start following a job set, so a job set
 * nobody follows (never, or not for a while) is CONNECTION_ERR for any job
 * that has not finished, never a JOB_ID_NOT_FOUND it cannot prove.
 */
export function edgeSource(options: EdgeSourceOptions): JobStatusSource {
  const judged = (progress: JobSetProgress | undefined): JobSetProgress => {
    if (progress === undefined) return { cursor: "", caughtUp: false, error: NOT_FOLLOWED, updatedAt: 0 };
    const silentMs = options.now() - progress.updatedAt;
    if (progress.error === "" && silentMs > options.staleAfterMs) {
      return { ...progress, error: `the job service has not updated this job set for ${Math.round(silentMs / 1000)} s; is it still followed?` };
    }
    return progress;
  };
  return {
    async status(key) {
      const lookup = await options.store.read(key);
      return answerFor({ ...lookup, progress: judged(lookup.progress) });
    },
    async lookup(jobSet, jobIds) {
      const lookup = await options.store.readJobSet(jobSet, jobIds);
      return { ...lookup, progress: judged(lookup.progress) };
    },
  };
}
