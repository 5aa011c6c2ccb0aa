import type { Readiness } from "../server/readiness.js";
import type { JobSetProgress } from "../store/store.js";
import type { JobSetStatus } from "../subscriber/index.js";
import type { RecentError } from "./recent-errors.js";

/**
 * Who is looking at the page. The auth module decides it per request; until
 * then every viewer may see everything.
 */
export interface StatusViewer {
  /** May the viewer watch this queue's job sets? Absent: every queue. */
  readonly mayWatch?: (queue: string) => boolean;
  /** Auth is on and the viewer is anonymous: counts and rates only, no names, no error text. */
  readonly anonymousCountsOnly: boolean;
}

export const EVERYONE: StatusViewer = { anonymousCountsOnly: false };

/** What the viewer asked for, from the query string. */
export interface StatusQuery {
  /** Case-insensitive substring of "queue/job set id"; "" matches all. */
  readonly filter: string;
  /** Most job set rows shown. */
  readonly limit: number;
}

export const DEFAULT_LIMIT = 50;
export const MAX_LIMIT = 500;
export const MAX_FILTER_LENGTH = 200;

/** The query string's `q` and `limit`, clamped: a page request never fails on bad input. */
export function parseQuery(params: { readonly q?: string | undefined; readonly limit?: string | undefined }): StatusQuery {
  const limit = Number.parseInt(params.limit ?? "", 10);
  return {
    filter: (params.q ?? "").trim().slice(0, MAX_FILTER_LENGTH),
    limit: Number.isFinite(limit) ? Math.min(MAX_LIMIT, Math.max(1, limit)) : DEFAULT_LIMIT,
  };
}

export type Health = "live" | "catching up" | "failing" | "idle";

export interface JobSetRow {
  readonly queue: string;
  readonly jobSetId: string;
  /** idle: no longer followed (nobody asked for the subscription expiry), its data still in the store and answered from there. */
  readonly role: "owner" | "follower" | "idle";
  /** "" when no event has been seen. */
  readonly cursor: string;
  /** Undefined when no event has been seen. */
  readonly secondsSinceLastEvent: number | undefined;
  readonly health: Health;
  /** The last error, "" while healthy. */
  readonly error: string;
}

export interface JobSetCounts {
  readonly total: number;
  readonly owners: number;
  readonly followers: number;
  readonly idle: number;
  readonly failing: number;
  /** How many match the filter (all of them when it is empty). */
  readonly matching: number;
}

/** The job sets a viewer gets to see: counts of all they may watch, rows for the top `limit` that match. */
export interface Selection {
  readonly counts: JobSetCounts;
  readonly rows: readonly JobSetStatus[];
}

function activityOf(jobSet: JobSetStatus): number {
  return Math.max(jobSet.lastEventAt ?? 0, jobSet.lastReadAt);
}

/** Failing first, then the most recently active (last event or last request), then by name: stable across refreshes. */
function compareForDisplay(a: JobSetStatus, b: JobSetStatus): number {
  const failing = Number(b.failure !== undefined) - Number(a.failure !== undefined);
  if (failing !== 0) return failing;
  const activity = activityOf(b) - activityOf(a);
  if (activity !== 0) return activity;
  return a.queue === b.queue ? (a.jobSetId < b.jobSetId ? -1 : a.jobSetId > b.jobSetId ? 1 : 0) : a.queue < b.queue ? -1 : 1;
}

/**
 * The first `limit` of `items` in `compare` order, without sorting them all:
 * a sorted window of the best so far, which most items fall outside of.
 */
function topN<T>(items: Iterable<T>, limit: number, compare: (a: T, b: T) => number): T[] {
  const best: T[] = [];
  for (const item of items) {
    const worst = best[best.length - 1];
    if (best.length >= limit && worst !== undefined && compare(item, worst) >= 0) continue;
    let low = 0;
    let high = best.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compare(best[middle] as T, item) <= 0) low = middle + 1;
      else high = middle;
    }
    best.splice(low, 0, item);
    if (best.length > limit) best.pop();
  }
  return best;
}

/**
 * Picks what one viewer sees from every job set the replica serves: one pass
 * counts, filters and keeps the top `limit`, so a page over 10,000 job sets
 * costs one scan and never renders more than `limit` rows.
 */
export function selectJobSets(jobSets: Iterable<JobSetStatus>, query: StatusQuery, viewer: StatusViewer): Selection {
  const needle = query.filter.toLowerCase();
  const mayWatch = viewer.anonymousCountsOnly ? undefined : viewer.mayWatch;
  let total = 0;
  let owners = 0;
  let idle = 0;
  let failing = 0;
  let matching = 0;
  function* matches(): Generator<JobSetStatus> {
    for (const jobSet of jobSets) {
      if (mayWatch && !mayWatch(jobSet.queue)) continue;
      total++;
      if (jobSet.role === "owner") owners++;
      else if (jobSet.idle) idle++;
      if (jobSet.failure) failing++;
      if (viewer.anonymousCountsOnly) continue;
      if (needle !== "" && !`${jobSet.queue}/${jobSet.jobSetId}`.toLowerCase().includes(needle)) continue;
      matching++;
      yield jobSet;
    }
  }
  const rows = topN(matches(), query.limit, compareForDisplay);
  return {
    counts: { total, owners, followers: total - owners - idle, idle, failing, matching: viewer.anonymousCountsOnly ? total : matching },
    rows,
  };
}

export interface CheckView {
  readonly name: string;
  readonly ok: boolean;
  /** "" when ok, or when the viewer may not read error text. */
  readonly error: string;
}

export interface StatusView {
  /** Milliseconds since the epoch when the view was taken. */
  readonly at: number;
  readonly countsOnly: boolean;
  readonly counts: JobSetCounts;
  readonly rows: readonly JobSetRow[];
  /** Per second; undefined until two readings are far enough apart. */
  readonly eventsPerSecond: number | undefined;
  readonly requestsPerSecond: number | undefined;
  readonly ready: boolean;
  readonly checks: readonly CheckView[];
  readonly errors: readonly RecentError[];
}

export interface StatusInputs {
  readonly at: number;
  readonly selection: Selection;
  /** What the store says about the follower rows (the owner replica writes it); keyed by `followerKey`. */
  readonly followerProgress: ReadonlyMap<string, JobSetProgress>;
  readonly eventsPerSecond: number | undefined;
  readonly requestsPerSecond: number | undefined;
  readonly readiness: Readiness;
  readonly errors: readonly RecentError[];
}

export function followerKey(jobSet: { readonly queue: string; readonly jobSetId: string }): string {
  return JSON.stringify([jobSet.queue, jobSet.jobSetId]);
}

function rowOf(jobSet: JobSetStatus, stored: JobSetProgress | undefined, at: number): JobSetRow {
  const secondsSince = (t: number | undefined): number | undefined => (t === undefined ? undefined : Math.max(0, Math.floor((at - t) / 1000)));
  if (jobSet.role === "follower") {
    const error = stored?.error ?? "";
    return {
      queue: jobSet.queue,
      jobSetId: jobSet.jobSetId,
      role: jobSet.idle ? "idle" : "follower",
      cursor: stored?.cursor ?? "",
      // The owner's last write is the closest a follower gets to the last event.
      secondsSinceLastEvent: secondsSince(stored?.cursor ? stored.updatedAt : undefined),
      // Idle: nobody follows it, so the stored state is what it was when the subscription expired.
      health: jobSet.idle ? "idle" : error !== "" ? "failing" : stored?.caughtUp ? "live" : "catching up",
      error,
    };
  }
  return {
    queue: jobSet.queue,
    jobSetId: jobSet.jobSetId,
    role: "owner",
    cursor: jobSet.cursor,
    secondsSinceLastEvent: secondsSince(jobSet.lastEventAt),
    health: jobSet.failure ? "failing" : jobSet.ready ? "live" : "catching up",
    error: jobSet.failure?.text ?? "",
  };
}

/** Everything the page shows, for one viewer, with what that viewer may not see left out. */
export function statusView(inputs: StatusInputs, viewer: StatusViewer): StatusView {
  const countsOnly = viewer.anonymousCountsOnly;
  const mayWatch = viewer.mayWatch;
  const errors = countsOnly ? [] : inputs.errors.filter((e) => e.queue === undefined || !mayWatch || mayWatch(e.queue));
  return {
    at: inputs.at,
    countsOnly,
    counts: inputs.selection.counts,
    rows: countsOnly ? [] : inputs.selection.rows.map((jobSet) => rowOf(jobSet, inputs.followerProgress.get(followerKey(jobSet)), inputs.at)),
    eventsPerSecond: inputs.eventsPerSecond,
    requestsPerSecond: inputs.requestsPerSecond,
    ready: inputs.readiness.ready,
    checks: Object.entries(inputs.readiness.checks).map(([name, check]) => ({ name, ok: check.ok, error: countsOnly ? "" : (check.error ?? "") })),
    errors,
  };
}
