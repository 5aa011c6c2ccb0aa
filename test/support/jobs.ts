import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobRecord, JobSetKey, JobSetUpdate, JobStore } from "../../src/store/store.js";

export function jobRecord(state: State, fields: Partial<JobRecord> = {}): JobRecord {
  return { state, error: "", lastEvent: "queued", messageId: "1:0:0:0", runAttempts: 0, ...fields };
}

/** Puts jobs straight into a store that holds nothing for the job set yet, as a caught-up subscription would have. */
export async function seedJobs(store: JobStore, jobSet: JobSetKey, jobs: Record<string, JobRecord>): Promise<void> {
  await store.write(
    jobSet,
    { jobs: new Map(Object.entries(jobs)), progress: { cursor: "9:0:0:0", caughtUp: true, error: "", updatedAt: Date.now() } },
    { expected: undefined, fence: 0 },
  );
}

/**
 * Writes an update as the job set's one writer would next: guarded by the
 * cursor the store holds now (none for a first write), for tests that script
 * a job set's history write by write.
 */
export async function writeNext(store: JobStore, jobSet: JobSetKey, update: JobSetUpdate): Promise<void> {
  const progress = await store.readProgress(jobSet);
  await store.write(jobSet, update, { expected: progress?.cursor, fence: 0 });
}

export { State };
