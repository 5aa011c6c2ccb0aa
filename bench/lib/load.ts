import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runTool } from "./run-tool.js";
import { summarizeLatencies } from "./stats.js";

/** One fixed-length load run as a load generator saw it. */
export interface LoadResult {
  /** Answered requests per second over the measured period. */
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly requests: number;
  /** Requests that failed at the HTTP level or never completed. */
  readonly failed: number;
}

export interface H2loadOptions {
  readonly url: string;
  readonly body: Buffer;
  readonly headers: Readonly<Record<string, string>>;
  readonly clients: number;
  readonly streamsPerClient: number;
  readonly durationS: number;
  readonly warmUpS: number;
  /** Fixed offered load per client (open loop); closed loop at full concurrency when absent. */
  readonly rpsPerClient?: number;
  /**
   * With rpsPerClient: connect one client per this many milliseconds (h2load's
   * rate mode) so that the clients' --rps timers do not all fire together.
   * Rate mode runs a request count rather than a duration and has no warm-up,
   * so the requests started within warmUpS are left out of the latencies.
   */
  readonly connectEveryMs?: number;
}

/** h2load over h2c with a fixed body; latencies come from its per-request log. */
export async function h2load(options: H2loadOptions): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "jobservice-bench-"));
  try {
    const bodyFile = join(dir, "body");
    const logFile = join(dir, "requests.tsv");
    writeFileSync(bodyFile, options.body);
    const spread = options.rpsPerClient !== undefined && options.connectEveryMs !== undefined;
    const length = spread
      ? [
          "-n",
          String(Math.round(options.clients * options.rpsPerClient! * (options.durationS + options.warmUpS))),
          "-r",
          "1",
          "--rate-period",
          `${options.connectEveryMs}ms`,
        ]
      : ["-D", String(options.durationS), "--warm-up-time", String(options.warmUpS)];
    const args = [
      "-t",
      "1",
      "-c",
      String(options.clients),
      "-m",
      String(options.streamsPerClient),
      ...length,
      "-d",
      bodyFile,
      "--log-file",
      logFile,
      ...Object.entries(options.headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
      ...(options.rpsPerClient === undefined ? [] : ["--rps", String(options.rpsPerClient)]),
      options.url,
    ];
    const output = await runTool("h2load", args, (options.durationS + options.warmUpS + 30) * 1000);
    const done = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output.stdout);
    if (output.code !== 0 || !done) throw new Error(`h2load failed (exit ${output.code}): ${output.stderr.trim() || output.stdout.trim()}`);
    const [total, , , succeeded, failed, errored, timeout] = done.slice(1).map(Number) as number[];
    // Each log line: start time (µs since the epoch), status, duration (µs).
    const logged = readFileSync(logFile, "utf8")
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => line.split("\t").map(Number) as [number, number, number]);
    const firstStart = logged.reduce((first, [start]) => Math.min(first, start), Infinity);
    const measured = spread ? logged.filter(([start]) => start - firstStart >= options.warmUpS * 1e6) : logged;
    const summary = summarizeLatencies(measured.map(([, , duration]) => duration / 1000));
    return {
      rps: spread ? measured.length / options.durationS : (succeeded as number) / options.durationS,
      p50Ms: summary.p50Ms,
      p99Ms: summary.p99Ms,
      maxMs: summary.maxMs,
      requests: total as number,
      failed: (failed as number) + (errored as number) + (timeout as number),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface AutocannonOptions {
  readonly url: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly durationS: number;
}

interface AutocannonReport {
  readonly duration: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly non2xx: number;
  readonly requests: { readonly total: number };
  readonly latency: { readonly p50: number; readonly p99: number; readonly max: number };
}

const autocannonBin = createRequire(import.meta.url).resolve("autocannon/autocannon.js");

/** autocannon (in its own process) over HTTP/1.1 keep-alive, one request in flight per connection. */
export async function autocannon(options: AutocannonOptions): Promise<LoadResult> {
  const args = [
    autocannonBin,
    "--json",
    "-c",
    String(options.connections),
    "-d",
    String(options.durationS),
    "-m",
    "POST",
    "-b",
    options.body,
    ...Object.entries(options.headers).flatMap(([name, value]) => ["-H", `${name}=${value}`]),
    options.url,
  ];
  const output = await runTool(process.execPath, args, (options.durationS + 30) * 1000);
  const jsonLine = output.stdout.split("\n").find((line) => line.startsWith("{"));
  if (output.code !== 0 || !jsonLine) throw new Error(`autocannon failed (exit ${output.code}): ${output.stderr.trim()}`);
  const report = JSON.parse(jsonLine) as AutocannonReport;
  const failed = report.errors + report.timeouts + report.non2xx;
  return {
    rps: (report.requests.total - report.non2xx) / report.duration,
    p50Ms: report.latency.p50,
    p99Ms: report.latency.p99,
    maxMs: report.latency.max,
    requests: report.requests.total,
    failed,
  };
}
