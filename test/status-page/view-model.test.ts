import { describe, expect, it } from "vitest";
import type { Readiness } from "../../src/server/readiness.js";
import { renderLive, renderPage } from "../../src/status-page/page.js";
import type { RecentError } from "../../src/status-page/recent-errors.js";
import {
  DEFAULT_LIMIT,
  EVERYONE,
  MAX_LIMIT,
  parseQuery,
  selectJobSets,
  statusView,
  type StatusInputs,
  type StatusViewer,
} from "../../src/status-page/view-model.js";
import type { JobSetStatus } from "../../src/subscriber/index.js";

const NOW = 1_800_000_000_000;
const READY: Readiness = { ready: true, checks: { store: { ok: true }, armada: { ok: true } } };

function jobSet(queue: string, jobSetId: string, fields: Partial<JobSetStatus> = {}): JobSetStatus {
  return { queue, jobSetId, role: "owner", cursor: "", ready: true, failure: undefined, lastEventAt: undefined, lastReadAt: NOW - 60_000, ...fields };
}

function manyJobSets(count: number): JobSetStatus[] {
  return Array.from({ length: count }, (_, i) =>
    jobSet(`queue-${i % 7}`, `set-${i}`, {
      lastEventAt: NOW - i * 1000,
      lastReadAt: NOW - i * 1000,
      cursor: `${i}:0:0:0`,
      role: i % 3 === 0 ? "follower" : "owner",
    }),
  );
}

function inputs(jobSets: Iterable<JobSetStatus>, query = parseQuery({}), viewer: StatusViewer = EVERYONE, extra: Partial<StatusInputs> = {}): StatusInputs {
  return {
    at: NOW,
    selection: selectJobSets(jobSets, query, viewer),
    followerProgress: new Map(),
    eventsPerSecond: 12.5,
    requestsPerSecond: 3,
    readiness: READY,
    errors: [],
    ...extra,
  };
}

function error(fields: Partial<RecentError>): RecentError {
  return { source: "armada", message: "Armada event stream failed: UNAVAILABLE: down", firstAt: NOW - 5000, lastAt: NOW - 1000, count: 1, ...fields };
}

describe("the status page's query", () => {
  it("defaults to no filter and the default row count", () => {
    expect(parseQuery({})).toEqual({ filter: "", limit: DEFAULT_LIMIT });
  });

  it("clamps the row count and trims the filter instead of failing", () => {
    expect(parseQuery({ q: "  nightly  ", limit: "100000" })).toEqual({ filter: "nightly", limit: MAX_LIMIT });
    expect(parseQuery({ limit: "0" }).limit).toBe(1);
    expect(parseQuery({ limit: "ten" }).limit).toBe(DEFAULT_LIMIT);
    expect(parseQuery({ q: "x".repeat(10_000) }).filter).toHaveLength(200);
  });
});

describe("which job sets the page shows", () => {
  it("puts failing job sets first, then the most recently active", () => {
    const selection = selectJobSets(
      [
        jobSet("q", "quiet", { lastEventAt: NOW - 600_000, lastReadAt: NOW - 600_000 }),
        jobSet("q", "busy", { lastEventAt: NOW - 1_000 }),
        jobSet("q", "broken", { failure: { reason: "unavailable", text: "down" }, lastEventAt: NOW - 900_000, lastReadAt: NOW - 900_000 }),
        jobSet("q", "polled", { lastReadAt: NOW - 2_000 }),
      ],
      parseQuery({}),
      EVERYONE,
    );
    expect(selection.rows.map((row) => row.jobSetId)).toEqual(["broken", "busy", "polled", "quiet"]);
  });

  it("shows the top N of 10,000 and counts all of them", () => {
    const selection = selectJobSets(manyJobSets(10_000), parseQuery({ limit: "25" }), EVERYONE);
    expect(selection.rows).toHaveLength(25);
    expect(selection.rows[0]?.jobSetId).toBe("set-0");
    expect(selection.counts).toEqual({ total: 10_000, owners: 6_666, followers: 3_334, idle: 0, failing: 0, matching: 10_000 });
  });

  it("picks exactly the first N of the full display order, ties included", () => {
    // A fixed pseudo-random mix: repeated activity times (ties broken by name), some failing.
    let seed = 7;
    const next = (): number => (seed = (seed * 48271) % 2147483647);
    const mixed = Array.from({ length: 3000 }, (_, i) =>
      jobSet(`q${next() % 3}`, `s${next() % 1000}-${i}`, {
        lastEventAt: NOW - (next() % 50) * 1000,
        failure: next() % 40 === 0 ? { reason: "unavailable", text: "down" } : undefined,
      }),
    );
    const byName = (a: JobSetStatus, b: JobSetStatus): number => (a.queue === b.queue ? (a.jobSetId < b.jobSetId ? -1 : 1) : a.queue < b.queue ? -1 : 1);
    const fullOrder = [...mixed].sort(
      (a, b) => Number(b.failure !== undefined) - Number(a.failure !== undefined) || (b.lastEventAt ?? 0) - (a.lastEventAt ?? 0) || byName(a, b),
    );
    for (const limit of [1, 7, 50, 500]) {
      expect(selectJobSets(mixed, parseQuery({ limit: String(limit) }), EVERYONE).rows).toEqual(fullOrder.slice(0, limit));
    }
  });

  it("filters on the server by a case-insensitive part of queue/job set", () => {
    const selection = selectJobSets(manyJobSets(10_000), parseQuery({ q: "QUEUE-3/SET-99" }), EVERYONE);
    // queue-3 holds the ids i with i % 7 === 3: 99, 990–999 (those ≡ 3), 9900–9999 (those ≡ 3).
    const expected = manyJobSets(10_000).filter((s) => s.queue === "queue-3" && s.jobSetId.startsWith("set-99"));
    expect(selection.counts.matching).toBe(expected.length);
    expect(selection.rows.map((r) => r.jobSetId)).toEqual(expected.slice(0, DEFAULT_LIMIT).map((s) => s.jobSetId));
    expect(selection.counts.total).toBe(10_000);
  });

  it("shows a viewer only the queues it may watch, in rows and counts", () => {
    const viewer: StatusViewer = { mayWatch: (queue) => queue === "queue-1", anonymousCountsOnly: false };
    const selection = selectJobSets(manyJobSets(700), parseQuery({}), viewer);
    expect(selection.counts.total).toBe(100);
    expect(new Set(selection.rows.map((r) => r.queue))).toEqual(new Set(["queue-1"]));
  });

  it("gives an anonymous viewer counts only, when auth asks for it", () => {
    const viewer: StatusViewer = { mayWatch: () => false, anonymousCountsOnly: true };
    const view = statusView(inputs(manyJobSets(300), parseQuery({}), viewer, { errors: [error({ queue: "queue-1", jobSetId: "set-1" })] }), viewer);
    expect(view.counts.total).toBe(300);
    expect(view.rows).toEqual([]);
    expect(view.errors).toEqual([]);
    const html = renderLive(view);
    expect(html).not.toContain("set-1");
    expect(html).toContain('id="counts-only"');
  });
});

describe("a job set's row", () => {
  it("shows an owner's cursor, seconds since its last event, health and last error", () => {
    const view = statusView(
      inputs([
        jobSet("q", "live", { cursor: "7:1:0:0", lastEventAt: NOW - 4_500 }),
        jobSet("q", "new", { ready: false }),
        jobSet("q", "down", { failure: { reason: "unavailable", text: "Armada event stream failed: UNAVAILABLE: refused" }, cursor: "3:0:0:0" }),
      ]),
      EVERYONE,
    );
    expect(view.rows).toEqual([
      {
        queue: "q",
        jobSetId: "down",
        role: "owner",
        cursor: "3:0:0:0",
        secondsSinceLastEvent: undefined,
        health: "failing",
        error: "Armada event stream failed: UNAVAILABLE: refused",
      },
      { queue: "q", jobSetId: "live", role: "owner", cursor: "7:1:0:0", secondsSinceLastEvent: 4, health: "live", error: "" },
      { queue: "q", jobSetId: "new", role: "owner", cursor: "", secondsSinceLastEvent: undefined, health: "catching up", error: "" },
    ]);
  });

  it("shows a follower what the owner replica stored", () => {
    const follower = jobSet("q", "f", { role: "follower", lastReadAt: NOW });
    const progress = new Map([[JSON.stringify(["q", "f"]), { cursor: "9:0:0:0", caughtUp: true, error: "", updatedAt: NOW - 2_000 }]]);
    const view = statusView(inputs([follower], parseQuery({}), EVERYONE, { followerProgress: progress }), EVERYONE);
    expect(view.rows[0]).toEqual({ queue: "q", jobSetId: "f", role: "follower", cursor: "9:0:0:0", secondsSinceLastEvent: 2, health: "live", error: "" });
  });
});

describe("the rendered page", () => {
  const hostile = `<script>alert("x")</script>&"'`;

  it("escapes job set names, queues and error texts everywhere", () => {
    const view = statusView(
      inputs([jobSet(hostile, hostile, { failure: { reason: "internal", text: hostile } })], parseQuery({}), EVERYONE, {
        errors: [error({ queue: hostile, jobSetId: hostile, message: hostile, source: hostile })],
        readiness: { ready: false, checks: { store: { ok: false, error: hostile } } },
      }),
      EVERYONE,
    );
    const html = renderPage(view, parseQuery({ q: `"><img src=x onerror=alert(1)>` }));
    expect(html).not.toContain("<script>alert");
    expect(html).not.toContain("<img");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&quot;&#39;");
    // The only script is the page's own.
    expect(html.match(/<script/g)).toHaveLength(1);
  });

  it("stays small with 10,000 job sets: one row per shown job set, whatever the total", () => {
    const all = manyJobSets(10_000);
    const page = renderPage(statusView(inputs(all), EVERYONE), parseQuery({}));
    const tenRows = renderPage(statusView(inputs(all.slice(0, 10)), EVERYONE), parseQuery({}));
    expect(page.match(/<tr data-queue=/g)).toHaveLength(DEFAULT_LIMIT);
    // Bounded: the page for 10,000 job sets is the page for 10, plus 40 rows of a few hundred bytes.
    expect(page.length).toBeLessThan(tenRows.length + 40 * 400);
    expect(renderLive(statusView(inputs(all, parseQuery({ limit: "100000" })), EVERYONE)).match(/<tr data-queue=/g)).toHaveLength(MAX_LIMIT);
  });

  it("shows the rates, each readiness check and the recent errors", () => {
    const view = statusView(
      inputs([], parseQuery({}), EVERYONE, {
        readiness: { ready: false, checks: { store: { ok: false, error: "connect ECONNREFUSED 127.0.0.1:6379" }, armada: { ok: true } } },
        errors: [error({ queue: "q", jobSetId: "s", count: 3 })],
      }),
      EVERYONE,
    );
    const html = renderLive(view);
    expect(html).toMatch(/id="rate-events"><div class="label">events applied \/ s<\/div><div class="value">13</);
    expect(html).toMatch(/id="rate-requests"><div class="label">requests \/ s<\/div><div class="value">3\.0</);
    expect(html).toMatch(/id="check-store".*failing.*connect ECONNREFUSED 127\.0\.0\.1:6379/);
    expect(html).toMatch(/id="check-armada".*ok/);
    expect(html).toMatch(/<strong>armada<\/strong> q\/s \(×3\): <span class="message">Armada event stream failed: UNAVAILABLE: down/);
  });

  it("shows a restricted viewer the errors of its queues and those of no queue", () => {
    const viewer: StatusViewer = { mayWatch: (queue) => queue === "mine", anonymousCountsOnly: false };
    const errors = [error({ queue: "mine", jobSetId: "a" }), error({ queue: "theirs", jobSetId: "b" }), error({ source: "store", message: "down" })];
    const view = statusView(inputs([], parseQuery({}), viewer, { errors }), viewer);
    expect(view.errors.map((e) => e.queue ?? e.source)).toEqual(["mine", "store"]);
  });
});

describe("idle job sets on the page", () => {
  it("counts and shows a job set no longer followed as idle, apart from followers", () => {
    const base = { cursor: "1:0:0:0", ready: true, failure: undefined, lastEventAt: 0, lastReadAt: 0 };
    const selection = selectJobSets(
      [
        { queue: "q", jobSetId: "followed", role: "follower", ...base },
        { queue: "q", jobSetId: "expired", role: "follower", idle: true, ...base },
      ],
      parseQuery({}),
      EVERYONE,
    );
    expect(selection.counts).toMatchObject({ total: 2, followers: 1, idle: 1 });
    const view = statusView(
      {
        at: 0,
        selection,
        followerProgress: new Map(),
        eventsPerSecond: undefined,
        requestsPerSecond: undefined,
        readiness: { ready: true, checks: {} },
        errors: [],
      },
      EVERYONE,
    );
    expect(view.rows.find((row) => row.jobSetId === "expired")).toMatchObject({ role: "idle", health: "idle" });
  });
});
