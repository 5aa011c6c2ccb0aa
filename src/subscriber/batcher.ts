import type { JobRecord, JobSetKey, JobStore } from "../store/store.js";
import { applyBatch, jobIdsOf } from "./apply-batch.js";
import type { ArmadaMessage } from "../armada/decode-event.js";
import type { SubscriberMetrics } from "./metrics.js";

/** What the store holds for a job set's stream. */
export interface StoredProgress {
  readonly cursor: string;
  readonly caughtUp: boolean;
  /** False while the store holds nothing for the job set: the first write must find it still empty. */
  readonly stored: boolean;
}

export interface BatcherOptions {
  readonly store: JobStore;
  readonly jobSet: JobSetKey;
  readonly start: StoredProgress;
  /** Write as soon as this many events are queued… */
  readonly maxEvents: number;
  /** …or this long after the first one arrived. */
  readonly maxDelayMs: number;
  readonly metrics: SubscriberMetrics;
  readonly now: () => number;
  /** The fencing token of this replica's lease, carried by every write. */
  readonly fence: () => number;
  /** What readers see as the error until the history is applied (e.g. that the job set is being rebuilt); none when absent. */
  readonly replayNote?: string;
  /** Told of every write as it is sent and once it is answered. */
  readonly onWrite?: WriteObserver;
  /**
   * Told when a write nobody waits for (a partial batch written on the timer)
   * fails: on a quiet stream no add() may come to report it, and the store
   * holding something else must not go unnoticed until the next event.
   */
  readonly onUnawaitedFailure?: (err: unknown) => void;
}

/** Watches a batcher's writes, e.g. to know whether a lease renewal overlapped one. */
export interface WriteObserver {
  sent(): void;
  /**
   * `cursor`: what the store holds now, when the write went through; undefined when it failed or was refused.
   * `fence`: the token the write carried, which the lease may have moved past while it was under way.
   */
  settled(cursor: string | undefined, fence: number): void;
}

/**
 * The only writer of one job set's stream into the store. Events are applied
 * in message order, a batch at a time: one readJobs and one atomic write of
 * the changed jobs together with the cursor, so the cursor never runs ahead of
 * the states it covers. Every write is guarded by the cursor this batcher
 * last wrote (or started from) and the lease's fencing token: if the store
 * lost the job set, or a newer owner wrote it, the write is refused and the
 * stream must be re-read from what the store holds.
 */
export interface Batcher {
  /**
   * Queues messages. Resolves at once unless full batches have to be written
   * first (back-pressure on the stream); rejects once any write has failed,
   * after which the stream must be re-read from `progress().cursor`.
   */
  add(messages: readonly ArmadaMessage[]): Promise<void>;
  /** Writes what is queued and marks the stream healthy (clearing a stored error); `caughtUp` once the history is applied. */
  flush(caughtUp?: boolean): Promise<void>;
  /**
   * Records why the stream is failing, for every replica's readers, together
   * with what is queued (unless a write failed: then the queue is dropped).
   */
  fail(reason: string): Promise<void>;
  /** What has been written so far. */
  progress(): StoredProgress;
  /** Stops the timer. Queued events are dropped: they come again when the stream is re-read from the cursor. */
  discard(): void;
}

/** Jobs whose records a batcher keeps: a few batches' worth, so a job's next events rarely need a read. */
const KNOWN_JOBS = 1_024;

export function createBatcher(options: BatcherOptions): Batcher {
  const { store, jobSet, metrics } = options;
  let written: StoredProgress = options.start;
  let queued: ArmadaMessage[] = [];
  let writes: Promise<void> = Promise.resolve();
  let failure: unknown;
  let timer: NodeJS.Timeout | undefined;
  // Records this batcher knows the store holds, the most recently used last:
  // every write is guarded by the cursor, so while writes succeed nothing
  // else has changed them, and a job seen in the last batches needs no read.
  const known = new Map<string, JobRecord>();

  function remember(jobId: string, record: JobRecord): void {
    known.delete(jobId);
    known.set(jobId, record);
    if (known.size > KNOWN_JOBS) known.delete(known.keys().next().value!);
  }

  /** The stored records of the jobs `messages` are about, read from the store only where not known. */
  async function recordsOf(messages: readonly ArmadaMessage[]): Promise<Map<string, JobRecord>> {
    const ids = jobIdsOf(messages);
    const unknown = ids.filter((id) => !known.has(id));
    const read = unknown.length > 0 ? await store.readJobs(jobSet, unknown) : undefined;
    const records = new Map<string, JobRecord>();
    for (const id of ids) {
      const record = known.get(id) ?? read?.get(id);
      if (record !== undefined) records.set(id, record);
    }
    return records;
  }

  async function write(messages: readonly ArmadaMessage[], caughtUp: boolean, error: string): Promise<void> {
    const started = performance.now();
    try {
      const stored = messages.length > 0 ? await recordsOf(messages) : new Map<string, JobRecord>();
      const batch = applyBatch(stored, messages, written.cursor);
      const shown = error || (caughtUp ? "" : (options.replayNote ?? ""));
      const fence = options.fence();
      options.onWrite?.sent();
      let landed: string | undefined;
      try {
        await store.write(
          jobSet,
          {
            jobs: batch.changed,
            progress: { cursor: batch.cursor, caughtUp, error: shown, updatedAt: options.now() },
            ...(batch.externalJobUris.size > 0 && { externalJobUris: batch.externalJobUris }),
          },
          { expected: written.stored ? written.cursor : undefined, fence },
        );
        landed = batch.cursor;
      } finally {
        options.onWrite?.settled(landed, fence);
      }
      written = { cursor: batch.cursor, caughtUp, stored: true };
      for (const [jobId, record] of stored) if (!batch.changed.has(jobId)) remember(jobId, record);
      for (const [jobId, record] of batch.changed) remember(jobId, record);
      for (const [type, count] of batch.appliedByType) metrics.eventsApplied.inc({ type }, count);
      metrics.batchEvents.observe(messages.length);
      metrics.batchWriteSeconds.observe((performance.now() - started) / 1000);
    } catch (err) {
      metrics.storeWriteFailures.inc();
      failure ??= err;
      throw err;
    }
  }

  /**
   * Writes run one after another, each taking at most `maxEvents` of what is
   * queued when its turn comes: the full batches, then, with `rest`, what is
   * left (with `caughtUp` and `error`, which only the last write carries).
   * After a failed write the queue no longer follows the cursor, so nothing
   * more is applied until the stream is re-read; only a failure report
   * (`recordError`) still goes through, without the queued events.
   */
  function enqueue(rest: boolean, caughtUp: () => boolean, error: string, recordError = false): Promise<void> {
    if (rest) {
      clearTimeout(timer);
      timer = undefined;
    }
    writes = writes
      .catch(() => undefined)
      .then(async () => {
        if (failure !== undefined && !recordError) throw failure;
        if (failure !== undefined) {
          queued = [];
          failure = undefined;
          return write([], caughtUp(), error);
        }
        while (queued.length > options.maxEvents || (!rest && queued.length === options.maxEvents)) {
          await write(queued.splice(0, options.maxEvents), written.caughtUp, "");
        }
        if (rest) {
          const messages = queued;
          queued = [];
          return write(messages, caughtUp(), error);
        }
        if (queued.length > 0) writeLater();
      });
    return writes;
  }

  /**
   * Writes a partial batch within the delay, for live events. While the
   * history is replayed nobody can be answered before its end, so only full
   * batches and the final flush are written: partial writes would only add
   * round trips.
   */
  function writeLater(): void {
    if (!written.caughtUp) return;
    timer ??= setTimeout(() => {
      // A failure here is kept for the next add() or flush() too.
      enqueue(true, keepCaughtUp, "").catch((err: unknown) => options.onUnawaitedFailure?.(err));
    }, options.maxDelayMs);
  }

  const keepCaughtUp = (): boolean => written.caughtUp;

  return {
    add(messages) {
      if (failure !== undefined) return Promise.reject(failure);
      for (const message of messages) queued.push(message);
      if (queued.length >= options.maxEvents) return enqueue(false, keepCaughtUp, "");
      if (queued.length > 0) writeLater();
      return Promise.resolve();
    },
    flush(caughtUp) {
      return enqueue(true, () => caughtUp === true || written.caughtUp, "");
    },
    fail(reason) {
      return enqueue(true, keepCaughtUp, reason, true);
    },
    progress: () => written,
    discard() {
      clearTimeout(timer);
      timer = undefined;
      queued = [];
    },
  };
}
