import { JobServiceResponse_State as State } from "../gen/jobservice/jobservice_pb.js";
import { isTerminal, type JobAnswer } from "./answer.js";

/** A terminal answer never changes: caches may keep it as long as they like. */
export const IMMUTABLE = "max-age=31536000, immutable";
/** A job in progress may change at any moment; a second is far below any poll interval. */
export const SHORT_LIVED = "max-age=1";
/** JOB_ID_NOT_FOUND and CONNECTION_ERR are transient: never reuse them. */
export const UNCACHEABLE = "no-store";

/**
 * The Cache-Control of an HTTP GET answer: as fresh as its least settled
 * part. `public` is never said, so shared caches keep no answer that was
 * given to an authenticated caller.
 */
export function cacheControlFor(answers: readonly JobAnswer[]): string {
  if (answers.some((a) => a.state === State.CONNECTION_ERR || a.state === State.JOB_ID_NOT_FOUND)) return UNCACHEABLE;
  if (answers.length > 0 && answers.every((a) => isTerminal(a.state))) return IMMUTABLE;
  return SHORT_LIVED;
}
