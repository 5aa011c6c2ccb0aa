// Just over 300 lines: the lease loop and the registry's bookkeeping share the Entry they mutate.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "../observability/logger.js";
import type { JobSetKey, JobStore, StoredMark } from "../store/store.js";
import { createLoopStop, type LoopStop } from "./loop-stop.js";
import type { SubscriptionSnapshot } from "./metrics.js";
import { judgeRenewal, type StoreFinding } from "./store-finding.js";
import { follow, type FollowDeps, type StoreLossAlarm, type StreamFailure } from "./subscription.js";

/**
 * One job set this replica has been asked about. It either owns the job set
 * (holds the lease and streams it from Armada into the store) or follows it
 * (another replica owns it; answers come from the store).
 */
export interface Entry {
  readonly jobSet: JobSetKey;
  lastReadAt: number;
  /** The first call may answer: the history is in the store, or the stream is known to be failing. */
  ready: boolean;
  readonly whenReady: Promise<void>;
  /** Set while this replica's stream for the job set is failing. */
  failure: StreamFailure | undefined;
  lastEventAt: number | undefined;
  /** The last Armada message id this replica received for the job set ("" before the first). */
  cursor: string;
  /** The fencing token of this replica's lease on the job set; 0 while it holds none. */
  fence: number;
  /**
   * What this replica last knew the store to hold for the job set, from its
   * own writes and reads (kept from one lease to the next); undefined when it
   * does not know (nothing written yet, or a write that failed).
   */
  held: StoredMark | undefined;
  /** Writes sent so far, and how many of them are unanswered: a renewal that overlaps one proves nothing. */
  writesSent: number;
  writesPending: number;
  owning: { readonly stop: AbortController; readonly done: Promise<void>; readonly storeLoss: StoreLossAlarm } | undefined;
  /** Why the last lease attempt failed, while the store keeps failing. */
  storeFailure: string | undefined;
  /** Resolves at the next lease failure: a call waiting for the history need not wait for a store that is down. */
  storeFailed: Promise<void>;
}

export interface RegistryOptions {
  readonly replicaId: string;
  readonly leaseTtlMs: number;
  readonly maxSubscriptions: number;
  readonly expiryMs: number;
  /** How often a follower that is not ready looks at the store for the owner's progress. */
  readonly followerPollMs: number;
  /** Told of every failure of an owned stream, e.g. to keep a list of recent errors. */
  readonly onStreamFailure?: (jobSet: JobSetKey, failure: StreamFailure) => void;
  /** Told of each job set whose subscription expired, as it last was (its data stays in the store until the TTL). */
  readonly onExpired?: (jobSet: JobSetStatus) => void;
}

/**
 * What the replica knows locally about one job set, read without touching
 * the store. A follower knows neither cursor nor failure: its owner keeps
 * those, in the store.
 */
export interface JobSetStatus extends JobSetKey {
  readonly role: "owner" | "follower";
  readonly cursor: string;
  /** The history has been read (or the stream is known to be failing). */
  readonly ready: boolean;
  readonly failure: StreamFailure | undefined;
  readonly lastEventAt: number | undefined;
  readonly lastReadAt: number;
  /** No longer followed (its subscription expired) but still in the store: set by the status page, never here. */
  readonly idle?: boolean;
}

export interface Registry {
  /** The job set's entry, started on first use (once, however many calls race); RESOURCE_EXHAUSTED at the cap. */
  touch(jobSet: JobSetKey): Entry;
  /** Whether the job set has an entry already, without touching it. */
  has(jobSet: JobSetKey): boolean;
  snapshot(): SubscriptionSnapshot;
  /** Every job set in the registry, as copies: a status page may hold them while entries change. */
  jobSets(): JobSetStatus[];
  close(): Promise<void>;
}

function keyOf(jobSet: JobSetKey): string {
  return JSON.stringify([jobSet.queue, jobSet.jobSetId]);
}

export function createRegistry(options: RegistryOptions, deps: FollowDeps): Registry {
  const { store, logger, now } = deps;
  const entries = new Map<string, { entry: Entry; stop: LoopStop; done: Promise<void> }>();

  function markReady(entry: Entry, resolve: () => void): void {
    entry.ready = true;
    resolve();
  }

  function startOwning(entry: Entry, resolveReady: () => void, suspected: StoreFinding | undefined): void {
    const stop = new AbortController();
    const storeLoss: StoreLossAlarm = { listener: undefined };
    const done = follow(
      entry.jobSet,
      deps,
      {
        caughtUp(cursor) {
          entry.failure = undefined;
          if (cursor !== "") entry.cursor = cursor;
          markReady(entry, resolveReady);
        },
        failed(failure) {
          entry.failure = failure;
          options.onStreamFailure?.(entry.jobSet, failure);
          markReady(entry, resolveReady);
        },
        event(messageId) {
          entry.lastEventAt = now();
          entry.cursor = messageId;
        },
        fence: () => entry.fence,
        writes: {
          sent() {
            entry.writesSent++;
            entry.writesPending++;
          },
          settled(cursor, fence) {
            entry.writesPending--;
            entry.held = cursor === undefined ? undefined : { cursor, fence };
          },
        },
        found(cursor) {
          entry.held = cursor === undefined ? undefined : { cursor, fence: entry.fence };
        },
      },
      stop.signal,
      storeLoss,
      suspected,
    ).catch((err: unknown) => logger.error({ err, ...entry.jobSet }, "job set subscription stopped unexpectedly"));
    entry.owning = { stop, done, storeLoss };
  }

  async function stopOwning(entry: Entry): Promise<void> {
    const owning = entry.owning;
    if (!owning) return;
    entry.owning = undefined;
    entry.failure = undefined;
    owning.stop.abort();
    await owning.done;
  }

  /**
   * Holds the lease while the entry lives: takes it when free (at start, or
   * when the owner stopped renewing), renews it at a third of its lifetime,
   * and stops streaming as soon as it cannot confirm it, so that two replicas
   * never stream one job set for longer than a renewal interval.
   */
  async function manage(entry: Entry, resolveReady: () => void, stop: LoopStop): Promise<void> {
    let owned = false;
    let signalStoreFailure = (): void => undefined;
    entry.storeFailed = new Promise<void>((resolve) => (signalStoreFailure = resolve));
    while (!stop.stopped) {
      owned = false;
      let finding: StoreFinding | undefined;
      const sentBefore = entry.writesSent;
      const pendingBefore = entry.writesPending;
      try {
        const lease = await store.lease(entry.jobSet, options.replicaId, options.leaseTtlMs);
        owned = lease !== undefined;
        if (lease) {
          entry.fence = lease.fence;
          const overlapped = pendingBefore > 0 || entry.writesPending > 0 || entry.writesSent !== sentBefore;
          finding = judgeRenewal(entry.held, lease, overlapped);
        }
        if (entry.storeFailure !== undefined) {
          entry.storeFailure = undefined;
          entry.storeFailed = new Promise<void>((resolve) => (signalStoreFailure = resolve));
        }
      } catch (err) {
        const text = err instanceof Error ? err.message : String(err);
        // Once per cause, not once per attempt: the store logs its own outages.
        if (text !== entry.storeFailure) logger.warn({ err, ...entry.jobSet }, "cannot take or renew a job set's lease");
        entry.storeFailure = text;
        signalStoreFailure();
      }
      if (stop.stopped) break;
      if (!owned) entry.fence = 0;
      if (owned && !entry.owning) startOwning(entry, resolveReady, finding);
      else if (owned && finding) entry.owning?.storeLoss.listener?.(finding);
      if (!owned && entry.owning) await stopOwning(entry);
      if (!owned && !entry.ready) {
        const progress = await store.readProgress(entry.jobSet).catch(() => undefined);
        if (progress?.caughtUp || progress?.error) markReady(entry, resolveReady);
      }
      // A failing store is retried at the renewal pace: it fails fast, and polling it would be a busy loop.
      const pause = owned || entry.ready || entry.storeFailure !== undefined ? options.leaseTtlMs / 3 : options.followerPollMs;
      await stop.sleep(pause);
    }
    await stopOwning(entry);
    if (owned) {
      await store.release(entry.jobSet, options.replicaId).catch((err: unknown) => logger.warn({ err, ...entry.jobSet }, "cannot release a job set's lease"));
    }
  }

  function start(jobSet: JobSetKey): Entry {
    let resolveReady!: () => void;
    const entry: Entry = {
      jobSet,
      lastReadAt: now(),
      ready: false,
      whenReady: new Promise<void>((resolve) => (resolveReady = resolve)),
      failure: undefined,
      lastEventAt: undefined,
      cursor: "",
      fence: 0,
      held: undefined,
      writesSent: 0,
      writesPending: 0,
      owning: undefined,
      storeFailure: undefined,
      storeFailed: new Promise<void>(() => undefined),
    };
    const stop = createLoopStop();
    const done = manage(entry, resolveReady, stop).catch((err: unknown) => logger.error({ err, ...jobSet }, "job set lease loop stopped unexpectedly"));
    entries.set(keyOf(jobSet), { entry, stop, done });
    logger.debug({ ...jobSet }, "job set subscription started");
    return entry;
  }

  async function remove(key: string): Promise<void> {
    const slot = entries.get(key);
    if (!slot) return;
    entries.delete(key);
    slot.stop.stop();
    await slot.done;
  }

  const sweep = setInterval(
    () => {
      const cutoff = now() - options.expiryMs;
      // forEach, not for…of: this runs every second over every job set, and each [key, value] pair is an allocation.
      entries.forEach(({ entry }, key) => {
        if (entry.lastReadAt < cutoff) {
          logger.debug({ ...entry.jobSet }, "job set subscription expired");
          options.onExpired?.(statusOf(entry));
          void remove(key);
        }
      });
    },
    Math.max(10, Math.min(1_000, options.expiryMs / 4)),
  );
  sweep.unref();

  return {
    touch(jobSet) {
      const slot = entries.get(keyOf(jobSet));
      if (slot) {
        slot.entry.lastReadAt = now();
        return slot.entry;
      }
      if (entries.size >= options.maxSubscriptions) {
        throw new ConnectError(
          `this replica already serves its limit of ${options.maxSubscriptions} job sets; retry later or raise the subscription limit`,
          Code.ResourceExhausted,
        );
      }
      return start(jobSet);
    },
    has: (jobSet) => entries.has(keyOf(jobSet)),
    snapshot() {
      const failing = new Map<string, number>();
      const secondsSinceLastEvent: number[] = [];
      let owned = 0;
      const at = now();
      for (const { entry } of entries.values()) {
        if (!entry.owning) continue;
        owned++;
        if (entry.failure) failing.set(entry.failure.reason, (failing.get(entry.failure.reason) ?? 0) + 1);
        if (entry.lastEventAt !== undefined) secondsSinceLastEvent.push((at - entry.lastEventAt) / 1000);
      }
      return { owned, followed: entries.size - owned, failing, secondsSinceLastEvent };
    },
    jobSets() {
      return Array.from(entries.values(), ({ entry }) => statusOf(entry));
    },
    async close() {
      clearInterval(sweep);
      await Promise.all([...entries.keys()].map(remove));
    },
  };
}

function statusOf(entry: Entry): JobSetStatus {
  return {
    queue: entry.jobSet.queue,
    jobSetId: entry.jobSet.jobSetId,
    role: entry.owning ? "owner" : "follower",
    cursor: entry.cursor,
    ready: entry.ready,
    failure: entry.failure,
    lastEventAt: entry.lastEventAt,
    lastReadAt: entry.lastReadAt,
  };
}
