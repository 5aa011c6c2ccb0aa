// What the harness and the bench processes say to each other.
import type { JobKey, JobSetKey } from "../../src/store/store.js";

export interface SimulatorReady {
  readonly url: string;
  readonly port: number;
  /** The read path's job set: bulk-loaded, finished jobs plus one that runs all along. */
  readonly readSet: JobSetKey;
  readonly terminalJobId: string;
  readonly runningJobId: string;
  readonly readSetEvents: number;
}

export interface BulkRequest {
  readonly queue: string;
  readonly prefix: string;
  readonly jobSets: number;
  readonly jobsPerSet: number;
  /** Absent: as fast as the simulator can append. */
  readonly eventsPerSecond?: number;
  /** Resolve once every event is in the log. */
  readonly wait: boolean;
  /** How many jobs' expected outcomes to return, spread over the load. */
  readonly sample?: number;
}

export interface ExpectedJob extends JobKey {
  readonly state: "succeeded" | "failed" | "cancelled";
}

export interface BulkSummary {
  readonly totalEvents: number;
  readonly jobSets: readonly JobSetKey[];
  readonly sample: readonly ExpectedJob[];
}

export type ProbeStep = "submitted" | "running" | "succeeded";

export type StoreChoice = { readonly kind: "memory" } | { readonly kind: "redis"; readonly url: string };

/** A write counts once this many replicas have it (Redis `WAIT`), with this timeout. */
export interface ReplicaAckChoice {
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** Milliseconds on the wall clock with sub-millisecond resolution: comparable across processes on one host. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}
