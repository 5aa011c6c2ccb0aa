// Just over 300 lines: one job set's stream loop (catch-up, live reading, the store's findings,
// loss and rollback recovery) is one state machine; its pure parts live in batcher.ts,
// store-finding.ts and backoff.ts.
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../observability/logger.js";
import { WriteRefused, type JobSetKey, type JobSetProgress, type JobStore } from "../store/store.js";
import type { ArmadaClient, JobSetStreamRequest } from "../armada/armada-client.js";
import { retryDelayMs, type BackoffPolicy } from "./backoff.js";
import { createBatcher, type Batcher, type StoredProgress, type WriteObserver } from "./batcher.js";
import type { ConcurrencyLimit, Release } from "../armada/concurrency-limit.js";
import type { SubscriberMetrics } from "./metrics.js";
import { confirmFinding, type StoreFinding } from "./store-finding.js";

/** Why a job set's stream is down: `reason` is a metric label, `text` what callers see in CONNECTION_ERR. */
export interface StreamFailure {
  readonly reason: string;
  readonly text: string;
}

/** What the owner of a job set's subscription learns as it goes. */
export interface FollowHooks {
  /** The history that existed when the stream opened is in the store (up to `cursor`), and the stream is healthy. */
  caughtUp(cursor: string): void;
  failed(failure: StreamFailure): void;
  /** A message arrived from Armada; `messageId` is its id. */
  event(messageId: string): void;
  /** The fencing token of the lease this replica holds now. */
  fence(): number;
  /** Every write to the store, as it is sent and answered. */
  readonly writes: WriteObserver;
  /** What reading the store again found it to hold: its cursor, or undefined when nothing. */
  found(cursor: string | undefined): void;
}

/** What readers see while a job set the store lost is read again from the start of its history. */
export const REBUILDING = "rebuilding: the store lost this job set's data; reading its history from Armada again";

/** What readers see while a job set the store rolled back is read again from the older cursor it went back to. */
export const ROLLED_BACK =
  "catching up: the store went back to an older state of this job set (a failover or a restart from an older snapshot); reading the events after it from Armada again";

/**
 * How the lease loop tells a running subscription that the store lost its
 * job set or went back on it: the subscription listens by setting
 * `listener`. A plain slot rather than an EventTarget, whose maps and shapes
 * cost about a kilobyte per job set at ten thousand job sets.
 */
export interface StoreLossAlarm {
  listener: ((finding: StoreFinding) => void) | undefined;
}

export interface FollowDeps {
  readonly client: ArmadaClient;
  readonly store: JobStore;
  readonly metrics: SubscriberMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  readonly backoff: BackoffPolicy;
  readonly idleTimeoutMs: number;
  readonly batchMaxEvents: number;
  readonly batchMaxDelayMs: number;
  /**
   * Shared by every subscription: how many history reads run at once. The
   * others wait their turn, so memory holds a few catch-ups at a time instead
   * of one per job set when thousands start together.
   */
  readonly catchUps: ConcurrencyLimit;
}

/** Armada answers these the same way however often it is asked. */
const SLOW_CODES: ReadonlySet<Code> = new Set([Code.NotFound, Code.PermissionDenied, Code.Unauthenticated]);

/** A live stream that was quiet for the idle limit: reopened in case it silently died, not an error. */
class QuietStream extends Error {}
/** The history stream stopped sending before it ended: the connection is suspect. */
class StalledStream extends Error {}
/** The store refused a write: the stream is re-read from the stored cursor. */
class StoreFailure extends Error {}
/** The lease renewal found the job set gone from the store, or older than written: it is read again from what the store holds. */
class StoreLost extends Error {}

/** "NotFound" → "NOT_FOUND", as gRPC names its codes. */
function grpcCodeName(code: Code): string {
  return Code[code].replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export function describeFailure(err: unknown): StreamFailure & { readonly slow: boolean } {
  if (err instanceof StalledStream) return { reason: "stalled", text: err.message, slow: false };
  if (err instanceof StoreFailure) return { reason: "store", text: err.message, slow: false };
  if (err instanceof ConnectError) {
    const name = grpcCodeName(err.code);
    return { reason: name.toLowerCase(), text: `Armada event stream failed: ${name}: ${err.rawMessage}`, slow: SLOW_CODES.has(err.code) };
  }
  return { reason: "internal", text: `Armada event stream failed: ${err instanceof Error ? err.message : String(err)}`, slow: false };
}

async function readStoredProgress(store: JobStore, jobSet: JobSetKey): Promise<StoredProgress> {
  try {
    const progress = await store.readProgress(jobSet);
    return { cursor: progress?.cursor ?? "", caughtUp: progress?.caughtUp ?? false, stored: progress !== undefined };
  } catch (err) {
    throw new StoreFailure(`store unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Follows one job set until `signal` aborts: reads its history (watch=false)
 * from the stored cursor to the end, then tails it (watch=true) from there.
 * Every error and every silence longer than the idle limit reopens the
 * stream, after a backoff for errors. After an error the stream resumes from
 * what the store holds, read again: if the store lost the job set (a write
 * refused as stale, or the lease renewal finding it gone), that is nothing,
 * and the job set is rebuilt from the start of its history while readers see
 * REBUILDING. If it went back to an older state of the job set (a write
 * refused as stale finding an older cursor, or the renewal finding one), the
 * events after that cursor are read again while readers see ROLLED_BACK,
 * written at once so that no reader takes the older state for the truth.
 * A failure is written to the store for all replicas' readers; only a
 * healthy stream (a history read to its end) clears it. `suspected` is what
 * the lease loop found before this subscription started.
 */
export async function follow(
  jobSet: JobSetKey,
  deps: FollowDeps,
  hooks: FollowHooks,
  signal: AbortSignal,
  storeLoss?: StoreLossAlarm,
  suspected?: StoreFinding,
): Promise<void> {
  const log = deps.logger.child({ queue: jobSet.queue, jobSetId: jobSet.jobSetId });
  let start: StoredProgress | undefined;
  // What this subscription last knew the store to hold; a loss is only a loss if it had written.
  let known: StoredProgress | undefined;
  let rebuilding = false;
  let rollingBack = false;
  let attempt = 0;
  // The open stream's own stop: the idle limit, a store loss and `signal` end it through this one controller.
  let streaming: AbortController | undefined;
  if (storeLoss) {
    storeLoss.listener = (finding) => {
      suspected = finding;
      const what = finding === "lost" ? "gone from the store" : "older in the store than last written";
      streaming?.abort(new StoreLost(`the lease renewal found the job set ${what}`));
    };
  }
  try {
    while (!signal.aborted) {
      let batcher: Batcher | undefined;
      let catchingUp: Release | undefined;
      let fenced = false;
      try {
        catchingUp = await deps.catchUps.acquire(signal);
        if (start === undefined) {
          start = await readStoredProgress(deps.store, jobSet);
          const finding = confirmFinding(known, start, suspected);
          suspected = undefined;
          if (finding === "lost") {
            rebuilding = true;
            deps.metrics.storeLosses.inc();
            log.warn({ cursor: known?.cursor }, "the store lost the job set's data; rebuilding it from Armada's history");
          } else if (finding === "rolled-back") {
            rollingBack = true;
            start = { ...start, caughtUp: false };
            deps.metrics.storeRollbacks.inc();
            log.warn(
              { stored: start.cursor, written: known?.cursor },
              "the store went back to an older state of the job set; reading the events after its cursor from Armada again",
            );
          }
          hooks.found(start.stored ? start.cursor : undefined);
          known = start;
        }
        batcher = createBatcher({
          store: deps.store,
          jobSet,
          start,
          maxEvents: deps.batchMaxEvents,
          maxDelayMs: deps.batchMaxDelayMs,
          metrics: deps.metrics,
          now: deps.now,
          fence: hooks.fence,
          onWrite: hooks.writes,
          onUnawaitedFailure: (err) => streaming?.abort(asStoreFailure(err)),
          ...(rebuilding && { replayNote: REBUILDING }),
          ...(rollingBack && { replayNote: ROLLED_BACK }),
        });
        // The older state says it is caught up: readers must hear otherwise before the history is read.
        if (rollingBack) await batcher.flush().catch(storeFailure);
        const opened = performance.now();
        streaming = new AbortController();
        const replayed = await pump(deps, batcher, hooks, { ...jobSet, fromMessageId: start.cursor, watch: false }, signal, streaming);
        await batcher.flush(true).catch(storeFailure);
        known = batcher.progress();
        deps.metrics.catchUpSeconds.observe((performance.now() - opened) / 1000);
        deps.metrics.catchUpEvents.observe(replayed);
        if (attempt > 0) log.info("Armada event stream healthy again");
        if (rebuilding) log.info("job set rebuilt from Armada's history");
        if (rollingBack) log.info("job set caught up again after the store went back to an older state");
        attempt = 0;
        rebuilding = false;
        rollingBack = false;
        catchingUp();
        hooks.caughtUp(batcher.progress().cursor);
        streaming = new AbortController();
        await pump(deps, batcher, hooks, { ...jobSet, fromMessageId: batcher.progress().cursor, watch: true }, signal, streaming);
        // A watch stream never ends by itself: the server is going away. Reopen soon, not in a tight loop.
        deps.metrics.reconnects.inc({ reason: "ended" });
        await batcher.flush().catch(storeFailure);
        await sleep(retryDelayMs(deps.backoff, 0, false), undefined, { signal }).catch(() => undefined);
        start = batcher.progress();
      } catch (err) {
        catchingUp?.();
        if (signal.aborted) break;
        const refused = refusalOf(err);
        if (err instanceof QuietStream && batcher) {
          deps.metrics.reconnects.inc({ reason: "idle" });
          const flushed = await batcher.flush().then(
            () => undefined,
            (flushErr: unknown) => flushErr,
          );
          // A refused flush means the store holds something else; one that failed may have been applied: re-read either way.
          const refusedFlush = refusalOf(flushed);
          if (refusedFlush?.reason === "stale") suspected ??= "rolled-back";
          fenced = refusedFlush?.reason === "fenced";
          start = flushed === undefined ? batcher.progress() : undefined;
        } else if (refused || err instanceof StoreLost) {
          // Not a stream failure: the store holds something else than this subscription wrote. Read what it holds.
          deps.metrics.reconnects.inc({ reason: refused?.reason ?? "store-lost" });
          log.warn(
            { reason: refused?.reason ?? "store-lost", error: err instanceof Error ? err.message : String(err) },
            "job set write refused; re-reading the store",
          );
          start = undefined;
          // A refusal as stale is certain: nothing was written, and the store holds something else than this batcher wrote.
          if (refused?.reason === "stale") suspected ??= "rolled-back";
          fenced = refused?.reason === "fenced";
          if (fenced) await sleep(retryDelayMs(deps.backoff, attempt++, false), undefined, { signal }).catch(() => undefined);
        } else {
          const failure = describeFailure(err);
          deps.metrics.reconnects.inc({ reason: failure.reason });
          log.warn({ reason: failure.reason, error: failure.text, attempt }, "Armada event stream failing; retrying");
          hooks.failed(failure);
          await batcher?.fail(failure.text).catch((writeErr: unknown) => log.warn({ err: writeErr }, "cannot record the stream failure in the store"));
          // A write that failed may still have been applied: resume from what the store holds.
          start = undefined;
          await sleep(retryDelayMs(deps.backoff, attempt++, failure.slow), undefined, { signal }).catch(() => undefined);
        }
      } finally {
        catchingUp?.();
        streaming = undefined;
        // After a newer owner wrote, what this one wrote says nothing of what the store should hold.
        if (batcher) known = fenced ? undefined : batcher.progress();
        batcher?.discard();
      }
    }
  } finally {
    if (storeLoss) storeLoss.listener = undefined;
  }
}

/** A refused write, as it reached the subscription (directly or as the cause of a StoreFailure). */
function refusalOf(err: unknown): WriteRefused | undefined {
  if (err instanceof WriteRefused) return err;
  if (err instanceof Error && err.cause instanceof WriteRefused) return err.cause;
  return undefined;
}

/** Between three quarters of `ms` and all of it, so that job sets started together do not all reopen together. */
function spreadOut(ms: number): number {
  return Math.round(ms * (0.75 + Math.random() / 4));
}

function asStoreFailure(err: unknown): StoreFailure {
  return new StoreFailure(`store write failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

function storeFailure(err: unknown): never {
  throw asStoreFailure(err);
}

/**
 * Feeds one stream into the batcher; resolves with the number of messages
 * when the stream ends. Silence longer than the idle limit aborts the stream:
 * for history that is a stall (an error), for a live stream a quiet job set.
 * Whoever aborts `stream` with a reason (the idle timer here, a store loss in
 * `follow`) has that reason thrown; `signal` ending the subscription aborts
 * it too.
 */
async function pump(
  deps: FollowDeps,
  batcher: Batcher,
  hooks: FollowHooks,
  request: JobSetStreamRequest,
  signal: AbortSignal,
  stream: AbortController,
): Promise<number> {
  const stop = (): void => stream.abort(signal.reason);
  signal.addEventListener("abort", stop, { once: true });
  // Ended between two streams (a close racing a reconnect or a rebuild): this one must not outlive it by the idle limit.
  if (signal.aborted) stop();
  const idle = setTimeout(
    () => {
      stream.abort(
        request.watch
          ? new QuietStream("no events within the idle limit")
          : new StalledStream(`Armada sent nothing for ${deps.idleTimeoutMs} ms while replaying the job set's history`),
      );
    },
    request.watch ? spreadOut(deps.idleTimeoutMs) : deps.idleTimeoutMs,
  );
  const interruption = (): Error | undefined => {
    if (!stream.signal.aborted || signal.aborted) return undefined;
    const reason: unknown = stream.signal.reason;
    return reason instanceof Error ? reason : new Error(String(reason));
  };
  let count = 0;
  try {
    for await (const messages of deps.client.jobSetEvents(request, stream.signal)) {
      idle.refresh();
      await batcher.add(messages).catch(storeFailure);
      idle.refresh();
      const last = messages.at(-1);
      if (last !== undefined) hooks.event(last.id);
      count += messages.length;
    }
  } catch (err) {
    throw interruption() ?? err;
  } finally {
    clearTimeout(idle);
    signal.removeEventListener("abort", stop);
  }
  const interrupted = interruption();
  if (interrupted) throw interrupted;
  return count;
}
