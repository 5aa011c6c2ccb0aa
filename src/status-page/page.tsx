import { createHash } from "node:crypto";
import type { RecentError } from "./recent-errors.js";
import { MAX_LIMIT, type CheckView, type JobSetRow, type StatusQuery, type StatusView } from "./view-model.js";

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2330; background: #fafbfc; }
header { display: flex; align-items: baseline; gap: 1rem; }
h1 { font-size: 1.3rem; margin: 0; }
h2 { font-size: 1.05rem; margin: 1.5rem 0 0.5rem; }
#connection { font-size: 0.85rem; padding: 0.1rem 0.5rem; border-radius: 0.6rem; background: #e3e6ea; }
#connection.ok { background: #d3f2dc; }
#connection.bad { background: #f9d7d7; }
form { margin: 1rem 0; display: flex; gap: 0.5rem; align-items: center; }
input[type=search] { width: 22rem; padding: 0.3rem; }
input[type=number] { width: 5rem; padding: 0.3rem; }
.summary { display: flex; flex-wrap: wrap; gap: 0.75rem; }
.card { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 0.5rem 0.9rem; min-width: 9rem; }
.card .label { font-size: 0.8rem; color: #5b6472; }
.card .value { font-size: 1.3rem; font-weight: 600; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 0.3rem 0.6rem; border-bottom: 1px solid #e6e9ed; vertical-align: top; }
th { font-size: 0.8rem; color: #5b6472; font-weight: 600; }
td.cursor, td.since { font-family: ui-monospace, monospace; white-space: nowrap; }
td.error, li .message { color: #9b1c1c; word-break: break-word; }
.health-live { color: #176b30; }
.health-catching-up { color: #8a5a00; }
.health-failing { color: #9b1c1c; font-weight: 600; }
.health-idle { color: #6b7280; }
ul.errors { padding-left: 1.2rem; }
.muted { color: #5b6472; font-size: 0.85rem; }
`;

/**
 * Replaces the live part of the page with each server-sent snapshot, and
 * follows the filter box without a reload: the server filters, the browser
 * only asks again.
 */
const SCRIPT = `
(() => {
  const live = document.getElementById("live");
  const connection = document.getElementById("connection");
  const form = document.getElementById("filter");
  let source;
  function connect() {
    if (source) source.close();
    source = new EventSource("status/events" + location.search);
    source.addEventListener("status", (event) => {
      live.innerHTML = event.data;
      connection.textContent = "live";
      connection.className = "ok";
    });
    source.addEventListener("error", () => {
      connection.textContent = "reconnecting…";
      connection.className = "bad";
    });
  }
  function apply() {
    const query = new URLSearchParams(new FormData(form)).toString();
    history.replaceState(null, "", query === "" ? location.pathname : "?" + query);
    connect();
  }
  let pending;
  form.addEventListener("input", () => {
    clearTimeout(pending);
    pending = setTimeout(apply, 250);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(pending);
    apply();
  });
  connect();
})();
`;

function sha256(text: string): string {
  return `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
}

/**
 * Only this page's own inline script and style may run, and it may only talk
 * back to this origin: whatever a job set name holds, it cannot execute.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function perSecond(rate: number | undefined): string {
  return rate === undefined ? "—" : rate < 10 ? rate.toFixed(1) : String(Math.round(rate));
}

function since(seconds: number | undefined): string {
  if (seconds === undefined) return "—";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)} min`;
  return `${Math.floor(seconds / 3600)} h`;
}

function Card(props: { label: string; value: string; id: string }) {
  return (
    <div class="card" id={props.id}>
      <div class="label">{props.label}</div>
      <div class="value">{props.value}</div>
    </div>
  );
}

function Check(props: { check: CheckView }) {
  const { check } = props;
  return (
    <div class="card" id={`check-${check.name}`}>
      <div class="label">{check.name}</div>
      <div class={`value ${check.ok ? "health-live" : "health-failing"}`}>{check.ok ? "ok" : "failing"}</div>
      {check.error !== "" && <div class="muted">{check.error}</div>}
    </div>
  );
}

function Row(props: { row: JobSetRow }) {
  const { row } = props;
  return (
    <tr data-queue={row.queue} data-job-set={row.jobSetId}>
      <td class="queue">{row.queue}</td>
      <td class="job-set">{row.jobSetId}</td>
      <td class="role">{row.role}</td>
      <td class="cursor">{row.cursor === "" ? "—" : row.cursor}</td>
      <td class="since">{since(row.secondsSinceLastEvent)}</td>
      <td class={`health health-${row.health.replace(" ", "-")}`}>{row.health}</td>
      <td class="error">{row.error}</td>
    </tr>
  );
}

function ErrorItem(props: { error: RecentError }) {
  const { error } = props;
  return (
    <li>
      <time datetime={new Date(error.lastAt).toISOString()}>{new Date(error.lastAt).toISOString().slice(11, 19)}</time> <strong>{error.source}</strong>
      {error.queue !== undefined && ` ${error.queue}/${error.jobSetId ?? ""}`}
      {error.count > 1 && ` (×${error.count})`}: <span class="message">{error.message}</span>
    </li>
  );
}

function Live(props: { view: StatusView }) {
  const { view } = props;
  const { counts } = view;
  return (
    <>
      <section class="summary">
        <Card id="count-job-sets" label="job sets" value={String(counts.total)} />
        <Card id="count-owners" label="owner" value={String(counts.owners)} />
        <Card id="count-followers" label="follower" value={String(counts.followers)} />
        <Card id="count-idle" label="idle" value={String(counts.idle)} />
        <Card id="count-failing" label="failing" value={String(counts.failing)} />
        <Card id="rate-events" label="events applied / s" value={perSecond(view.eventsPerSecond)} />
        <Card id="rate-requests" label="requests / s" value={perSecond(view.requestsPerSecond)} />
        {view.checks.map((check) => (
          <Check check={check} />
        ))}
      </section>
      {view.countsOnly ? (
        <p class="muted" id="counts-only">
          Sign in to see job sets and errors.
        </p>
      ) : (
        <>
          <h2>Job sets</h2>
          <p class="muted" id="showing">
            {`showing ${view.rows.length} of ${counts.matching} matching, ${counts.total} in all; failing first, then most recently active`}
          </p>
          <table id="job-sets">
            <thead>
              <tr>
                <th>queue</th>
                <th>job set</th>
                <th>role</th>
                <th>cursor</th>
                <th>since last event</th>
                <th>health</th>
                <th>last error</th>
              </tr>
            </thead>
            <tbody>
              {view.rows.map((row) => (
                <Row row={row} />
              ))}
            </tbody>
          </table>
          <h2>Recent errors</h2>
          {view.errors.length === 0 ? (
            <p class="muted" id="no-errors">
              none
            </p>
          ) : (
            <ul class="errors" id="errors">
              {view.errors.map((error) => (
                <ErrorItem error={error} />
              ))}
            </ul>
          )}
        </>
      )}
      <p class="muted">
        updated <time datetime={new Date(view.at).toISOString()}>{new Date(view.at).toISOString().slice(11, 19)} UTC</time>
      </p>
    </>
  );
}

/** The part of the page that each server-sent event replaces. */
export function renderLive(view: StatusView): string {
  return String(<Live view={view} />);
}

/** The whole page, with the first snapshot in it: it reads without JavaScript, and the script keeps it live. */
export function renderPage(view: StatusView, query: StatusQuery): string {
  return (
    "<!doctype html>" +
    String(
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <title>armada-jobservice status</title>
          <style dangerouslySetInnerHTML={{ __html: STYLE }} />
        </head>
        <body>
          <header>
            <h1>armada-jobservice</h1>
            <span id="connection">connecting…</span>
          </header>
          <form id="filter" method="get" action="">
            <input type="search" name="q" value={query.filter} placeholder="filter: part of queue/job set" aria-label="filter job sets" autocomplete="off" />
            <label>
              rows <input type="number" name="limit" value={String(query.limit)} min="1" max={String(MAX_LIMIT)} />
            </label>
            <button type="submit">filter</button>
          </form>
          <main id="live">
            <Live view={view} />
          </main>
          <script dangerouslySetInnerHTML={{ __html: SCRIPT }} />
        </body>
      </html>,
    )
  );
}
