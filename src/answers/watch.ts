import { JobServiceResponse_State as State } from "../gen/jobservice/jobservice_pb.js";
import { isTerminal, type JobAnswer } from "./answer.js";

export interface WatchStep {
  /** Send `current` to the watcher. */
  readonly send: boolean;
  /** The job is finished: end the stream once `current` is sent. */
  readonly end: boolean;
}

/**
 * What a watch does with the latest answer, given the last one it sent: an
 * answer equal to the last one is not sent again, and a failing upstream is
 * said once (CONNECTION_ERR whose reason changes is still one outage), so a
 * watcher sees each state once per change and the real state after recovery.
 */
export function watchStep(lastSent: JobAnswer | undefined, current: JobAnswer): WatchStep {
  const end = isTerminal(current.state);
  if (lastSent === undefined) return { send: true, end };
  if (current.state === State.CONNECTION_ERR && lastSent.state === State.CONNECTION_ERR) return { send: false, end };
  const same = lastSent.state === current.state && lastSent.error === current.error;
  return { send: !same, end };
}
