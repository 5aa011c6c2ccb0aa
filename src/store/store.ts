import type { JobServiceResponse_State } from "../gen/jobservice/jobservice_pb.js";

/** A job set is unique only per queue: Airflow reuses run ids across DAGs. */
export interface JobSetKey {
  readonly queue: string;
  readonly jobSetId: string;
}

export interface JobKey extends JobSetKey {
  readonly jobId: string;
}

/** What the service knows about one job: the v1 answer plus detail for richer APIs. */
export interface JobRecord {
  readonly state: JobServiceResponse_State;
  /** Failure reason for FAILED; empty otherwise. */
  readonly error: string;
  /** The oneof case of the last event applied, e.g. "running". */
  readonly lastEvent: string;
  /** Armada message id of the last event applied to this job. */
  readonly messageId: string;
  /** Milliseconds since the epoch, from the events' `created` times. */
  readonly submittedAt?: number;
  readonly startedAt?: number;
  readonly finishedAt?: number;
  readonly cluster?: string;
  readonly node?: string;
  readonly exitCode?: number;
  /** Armada's failure cause name, e.g. "OOM". */
  readonly cause?: string;
  /** How many times the job was leased to a cluster. */
  readonly runAttempts: number;
  /** Armada's own JobState (api.JobState) for its Query API; absent in records written before it was kept. */
  readonly armadaState?: number;
}

/** How far a job set's event stream has been applied, and whether it is healthy. */
export interface JobSetProgress {
  /** Last Armada message id whose effects are in the store; "" before the first. */
  readonly cursor: string;
  /** True once the backlog that existed when the subscription started was applied. */
  readonly caughtUp: boolean;
  /** Why the subscription is failing; "" while the stream is healthy. */
  readonly error: string;
  /** Milliseconds since the epoch of the last write. */
  readonly updatedAt: number;
}

export interface JobSetUpdate {
  readonly jobs: ReadonlyMap<string, JobRecord>;
  readonly progress: JobSetProgress;
  /**
   * Job id → external job URI, from the events this write applies: the
   * stores do not write them with the job set; the job-id index wrapper
   * (query/indexing-store.ts) indexes them once the guarded write succeeded.
   */
  readonly externalJobUris?: ReadonlyMap<string, string>;
}

/**
 * What a write must find in the store to go ahead, checked in the same atomic
 * step as the write: proof that the store still holds what this writer last
 * wrote (or read), and that no newer lease holder has written since.
 */
export interface WriteGuard {
  /** The cursor the store must hold for the job set; undefined: the store must hold nothing for it. */
  readonly expected: string | undefined;
  /** The fencing token of the writer's lease. A write with a lower token than one already written is refused. */
  readonly fence: number;
}

/** Why a guarded write was refused: nothing of it was written. */
export type WriteRefusal =
  /** The store no longer holds what the guard expected: the job set vanished (eviction, flush, restart) or was rewritten. */
  | "stale"
  /** A writer with a newer lease has written: this one lost its lease. */
  | "fenced";

export class WriteRefused extends Error {
  constructor(
    readonly reason: WriteRefusal,
    message: string,
  ) {
    super(message);
    this.name = "WriteRefused";
  }
}

/** A lease held on a job set. */
export interface Lease {
  /**
   * Fencing token: larger than every token handed out for this job set
   * before, the same for every renewal by the holder. Writes carry it.
   */
  readonly fence: number;
  /** Whether the store holds the job set's data (false once it was evicted, flushed or lost). */
  readonly stored: boolean;
  /**
   * What the store holds for the job set, read in the same atomic step: its
   * cursor and the token of the lease that wrote it (undefined when nothing
   * is stored). A holder compares it with what it last wrote, so a store
   * that went back in time (a replica promoted behind its master, a restart
   * from an older snapshot) is noticed even when the job set is quiet.
   */
  readonly holds?: StoredMark;
}

/** The cursor a job set's data was last written with, and the fencing token of that write. */
export interface StoredMark {
  readonly cursor: string;
  readonly fence: number;
}

export interface JobLookup {
  readonly job?: JobRecord;
  readonly progress?: JobSetProgress;
}

/** Jobs of one job set with its progress, read together. */
export interface JobSetLookup {
  readonly jobs: ReadonlyMap<string, JobRecord>;
  readonly progress?: JobSetProgress;
}

/**
 * What answering needs: reads and a health probe, nothing that changes the
 * store. The edge entry and the server's read path see only this.
 */
export interface JobStoreReader {
  /** One job and its job set's progress, in one round trip. */
  read(key: JobKey): Promise<JobLookup>;
  /**
   * Jobs of one job set and its progress in one round trip, one consistent
   * snapshot: the listed ids (absent ones left out), or every job it holds
   * when `jobIds` is undefined.
   */
  readJobSet(jobSet: JobSetKey, jobIds?: readonly string[]): Promise<JobSetLookup>;
  /** A job set's progress alone; undefined when the store holds nothing for it. */
  readProgress(jobSet: JobSetKey): Promise<JobSetProgress | undefined>;
  /** Resolves when the backing store answers; rejects with the reason otherwise. */
  ping(): Promise<void>;
}

/** What following a job set needs beside reading: merging reads, guarded writes and the lease. */
export interface JobStoreWriter {
  /** Several jobs of one job set, for merging a batch of events; absent ids are left out. */
  readJobs(jobSet: JobSetKey, jobIds: readonly string[]): Promise<Map<string, JobRecord>>;
  /**
   * Writes jobs and progress atomically and refreshes the job set's time to
   * live, if the guard holds; rejects with WriteRefused (writing nothing) if
   * not. A job with an empty id is refused before anything is written.
   */
  write(jobSet: JobSetKey, update: JobSetUpdate, guard: WriteGuard): Promise<void>;
  /**
   * Takes or renews the lease that lets one replica follow a job set: the
   * lease when `owner` holds it for the next `ttlMs`, undefined when another
   * owner does. Renewing also refreshes the job set's time to live, so an
   * active job set never expires.
   */
  lease(jobSet: JobSetKey, owner: string, ttlMs: number): Promise<Lease | undefined>;
  /** Gives the lease up if `owner` holds it. */
  release(jobSet: JobSetKey, owner: string): Promise<void>;
}

/**
 * The only thing the rest of the service knows about storage: both sides,
 * the job-id index where kept, and closing. Every write of a job set is
 * atomic (its jobs and its cursor together) and guarded, and all of a job
 * set's data lives, expires and is evicted together: a store can lose a job
 * set, but never part of one.
 */
export interface JobStore extends JobStoreReader, JobStoreWriter {
  /** The job-id index (see job-index.ts), where the backend keeps one; Armada's Query API asks by job id alone. */
  indexJobs?(jobSet: JobSetKey, jobIds: readonly string[]): Promise<void>;
  /** The job set of each indexed id; ids not indexed are left out. */
  jobSetsOf?(jobIds: readonly string[]): Promise<Map<string, JobSetKey>>;
  /** The external-job-URI index (see external-uri-index.ts), where kept: job id → URI, recorded in `jobSet`. */
  indexExternalJobUris?(jobSet: JobSetKey, uris: ReadonlyMap<string, string>): Promise<void>;
  /** The ids of `jobSet`'s jobs indexed under an external job URI; empty when none are. */
  jobIdsOfExternalUri?(jobSet: JobSetKey, uri: string): Promise<string[]>;
  close(): Promise<void>;
}
