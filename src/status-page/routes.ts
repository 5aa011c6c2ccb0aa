import { setTimeout as sleep } from "node:timers/promises";
import { Hono } from "hono";
import { streamSSE } from "hono/streaming";
import type { Registry } from "prom-client";
import type { Readiness } from "../server/readiness.js";
import type { JobSetProgress, JobStoreReader } from "../store/store.js";
import type { JobSetStatus } from "../subscriber/index.js";
import { CONTENT_SECURITY_POLICY, renderLive, renderPage } from "./page.js";
import { createRateMeter, type RateMeter } from "./rates.js";
import type { RecentErrors } from "./recent-errors.js";
import {
  EVERYONE,
  followerKey,
  MAX_LIMIT,
  parseQuery,
  selectJobSets,
  statusView,
  type Selection,
  type StatusQuery,
  type StatusView,
  type StatusViewer,
} from "./view-model.js";

/** Decides, per request, what the caller may see on the status page (see StatusViewer). */
export type ViewerOf = (request: Request) => StatusViewer | Promise<StatusViewer>;

export interface StatusPageDeps {
  /** Every job set this replica serves, from memory. */
  readonly jobSets: () => Iterable<JobSetStatus>;
  /** For follower rows: the owner replica's progress, read for the rows shown only. */
  readonly store: JobStoreReader;
  readonly readiness: () => Promise<Readiness>;
  /** Where the event and request counters are registered. */
  readonly metrics: Registry;
  readonly errors: RecentErrors;
  /** Everyone sees everything when absent (no caller security configured). */
  readonly viewer?: ViewerOf;
  /** How often the live page is refreshed. */
  readonly intervalMs: number;
  /** Told of an idle job set (see idle-job-sets.ts) the store no longer holds. */
  readonly forgetIdle?: (jobSet: JobSetStatus) => void;
  /** Ends every live stream, so that a graceful shutdown is not held up by open pages. */
  readonly shutdownSignal: AbortSignal;
  readonly now?: () => number;
}

const RATE_WINDOW_MS = 10_000;
/** A progress read that failed (the store is down): neither there nor gone. */
const UNKNOWN = Symbol("unknown");
type StoredProgress = JobSetProgress | undefined | typeof UNKNOWN;
const EVENTS_COUNTER = "jobservice_events_applied_total";
const REQUESTS_COUNTER = "jobservice_rpc_requests_total";

const PAGE_HEADERS = {
  "content-security-policy": CONTENT_SECURITY_POLICY,
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

/** The sum over every label set of a counter; undefined when no such counter is registered. */
async function counterTotal(metrics: Registry, name: string): Promise<number | undefined> {
  const metric = metrics.getSingleMetric(name);
  if (!metric) return undefined;
  const { values } = await metric.get();
  return values.reduce((sum, { value }) => sum + value, 0);
}

async function rateOf(meter: RateMeter, metrics: Registry, name: string, at: number): Promise<number | undefined> {
  const total = await counterTotal(metrics, name);
  if (total === undefined) return undefined;
  meter.add({ at, total });
  return meter.perSecond();
}

/**
 * `GET /`: the status page; `GET /status/events`: the same page's live part
 * as server-sent events, one snapshot every interval. Both take `q` (filter)
 * and `limit` (rows) and filter on the server.
 */
export function statusPageRoutes(deps: StatusPageDeps): Hono {
  const now = deps.now ?? Date.now;
  const viewerOf: ViewerOf = deps.viewer ?? (() => EVERYONE);
  // Wide enough to hold two readings of one open page, however slow its refresh.
  const window = Math.max(RATE_WINDOW_MS, 3 * deps.intervalMs);
  const eventsMeter = createRateMeter(window);
  const requestsMeter = createRateMeter(window);

  // Shared by every open page: a follower's progress is read from the store at most once per interval.
  const progressReads = new Map<string, { readonly at: number; readonly progress: Promise<StoredProgress> }>();
  function storedProgress(jobSet: JobSetStatus, at: number): Promise<StoredProgress> {
    const key = followerKey(jobSet);
    const cached = progressReads.get(key);
    if (cached && at - cached.at < deps.intervalMs) return cached.progress;
    const progress = deps.store.readProgress(jobSet).catch((): StoredProgress => UNKNOWN);
    progressReads.set(key, { at, progress });
    if (progressReads.size > 2 * MAX_LIMIT) {
      for (const [old, read] of progressReads) if (at - read.at >= deps.intervalMs) progressReads.delete(old);
    }
    return progress;
  }

  /** What the store holds for the follower (and idle) rows shown, and which of them it answered about. */
  async function followerProgress(rows: readonly JobSetStatus[], at: number): Promise<{ progress: Map<string, JobSetProgress>; answered: Set<string> }> {
    const followers = rows.filter((row) => row.role === "follower");
    const read = await Promise.all(followers.map(async (row) => [followerKey(row), await storedProgress(row, at)] as const));
    return {
      progress: new Map(read.filter((entry): entry is readonly [string, JobSetProgress] => entry[1] !== undefined && entry[1] !== UNKNOWN)),
      answered: new Set(read.filter(([, progress]) => progress !== UNKNOWN).map(([key]) => key)),
    };
  }

  /** Idle rows whose job set the store no longer holds: forgotten, and left off the page. */
  function withoutGone(selection: Selection, progress: ReadonlyMap<string, JobSetProgress>, read: ReadonlySet<string>): Selection {
    const gone = selection.rows.filter((row) => row.idle && read.has(followerKey(row)) && !progress.has(followerKey(row)));
    if (gone.length === 0) return selection;
    for (const row of gone) deps.forgetIdle?.(row);
    return { ...selection, rows: selection.rows.filter((row) => !gone.includes(row)) };
  }

  async function gather(query: StatusQuery, viewer: StatusViewer): Promise<StatusView> {
    const at = now();
    const selection = selectJobSets(deps.jobSets(), query, viewer);
    const [stored, eventsPerSecond, requestsPerSecond, readiness] = await Promise.all([
      viewer.anonymousCountsOnly ? { progress: new Map<string, JobSetProgress>(), answered: new Set<string>() } : followerProgress(selection.rows, at),
      rateOf(eventsMeter, deps.metrics, EVENTS_COUNTER, at),
      rateOf(requestsMeter, deps.metrics, REQUESTS_COUNTER, at),
      deps.readiness(),
    ]);
    return statusView(
      {
        at,
        selection: withoutGone(selection, stored.progress, stored.answered),
        followerProgress: stored.progress,
        eventsPerSecond,
        requestsPerSecond,
        readiness,
        errors: deps.errors.list(),
      },
      viewer,
    );
  }

  const app = new Hono();
  app.get("/", async (c) => {
    const query = parseQuery({ q: c.req.query("q"), limit: c.req.query("limit") });
    const view = await gather(query, await viewerOf(c.req.raw));
    return c.html(renderPage(view, query), 200, PAGE_HEADERS);
  });
  app.get("/status/events", async (c) => {
    const query = parseQuery({ q: c.req.query("q"), limit: c.req.query("limit") });
    const viewer = await viewerOf(c.req.raw);
    const response = streamSSE(c, async (stream) => {
      const stop = new AbortController();
      const end = (): void => stop.abort();
      stream.onAbort(end);
      deps.shutdownSignal.addEventListener("abort", end, { once: true });
      try {
        while (!stop.signal.aborted && !deps.shutdownSignal.aborted) {
          await stream.writeSSE({ event: "status", data: renderLive(await gather(query, viewer)) });
          await sleep(deps.intervalMs, undefined, { signal: stop.signal }).catch(() => undefined);
        }
      } finally {
        deps.shutdownSignal.removeEventListener("abort", end);
      }
    });
    // Connection-specific headers are forbidden in HTTP/2 (a TLS listener speaks it to browsers).
    response.headers.delete("transfer-encoding");
    response.headers.delete("connection");
    response.headers.set("cache-control", "no-store");
    response.headers.set("x-content-type-options", "nosniff");
    return response;
  });
  return app;
}
