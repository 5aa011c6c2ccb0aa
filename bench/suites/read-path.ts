// Over 300 lines: one suite, its contenders, loads and target checks, as the other suites are one file each.
import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey } from "../../src/store/store.js";
import { alternate, type Contender } from "../lib/alternate.js";
import { accessSync, constants } from "node:fs";
import { fileURLToPath } from "node:url";
import { processScript, startChild, startServe, type BenchChild, type ServeLaunch } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { connectJsonBody, GET_JOB_STATUS_PATH, grpcRequestBody } from "../lib/grpc-frame.js";
import { autocannon, h2load, type LoadResult } from "../lib/load.js";
import { fixed, percent, type Row, type SuiteOutcome, type TargetCheck } from "../lib/report.js";
import { median, pairedRatio } from "../lib/stats.js";
import type { ServiceProcessOptions } from "../processes/service.js";

const CONCURRENCY = 64;
// The target's offered load; the full run also measures a lighter one, for context.
const TARGET_RPS = 2_000;
const H2_CLIENTS = 8;
const OPEN_LOOP_CLIENTS = 4;
// Spread open-loop load: h2load clients at this rate each, connected one per millisecond (see spreadRun).
const SPREAD_RPS_PER_CLIENT = 100;
const SPREAD_CONNECT_EVERY_MS = 1;
const GRPC_HEADERS = { "content-type": "application/grpc", te: "trailers" };
const JSON_HEADERS = { "content-type": "application/json" };
const BARE_CONNECT = "bare connect-node HTTP/2 server";
const RAW_LISTENER = "raw constant on the service's listener";
// The issue's goal: the read path at half the runtime's own speed or better.
const OF_RAW_TARGET = 0.5;
const AUTH_SUBJECT = "armada auth (cache hit): memory, terminal job";
const NO_AUTH_SUBJECT = "memory, terminal job";
// What armadactl sends; the bench simulator checks no credentials, so Armada allows it once and the cache answers after.
const CALLER_AUTHORIZATION = { authorization: `basic ${Buffer.from("airflow:bench-password").toString("base64")}` };

interface Subject {
  readonly name: string;
  readonly service: BenchChild<{ port: number }>;
  readonly key: JobKey;
  /** Sent with every request, e.g. the caller's credentials. */
  readonly headers?: Readonly<Record<string, string>>;
}

type Protocol = "gRPC h2c" | "Connect JSON HTTP/1.1";

export async function readPathSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { scale, simulator } = context;
  const ready = simulator.ready;
  const terminal: JobKey = { ...ready.readSet, jobId: ready.terminalJobId };
  const running: JobKey = { ...ready.readSet, jobId: ready.runningJobId };
  // Every server runs as the shipped bundle, so that no subject pays for tsx's name-keeping helper on each closure.
  const start = (options: ServiceProcessOptions): Promise<BenchChild<{ port: number }>> => startChild(processScript("service"), options, [], "node");
  const [empty, memory, redis, bare, memoryAuth, raw] = await Promise.all([
    start({ answer: "empty", store: { kind: "memory" }, armadaUrl: ready.url }),
    start({ answer: "subscriber", store: { kind: "memory" }, armadaUrl: ready.url }),
    start({ answer: "subscriber", store: { kind: "redis", url: context.redisUrl }, armadaUrl: ready.url }),
    startChild<{ port: number }>(processScript("bare-connect"), {}, [], "node"),
    start({ answer: "subscriber", store: { kind: "memory" }, armadaUrl: ready.url, auth: "armada" }),
    startChild<{ port: number }>(processScript("raw-listener"), {}, [], "node"),
  ]);
  try {
    // The first call subscribes and waits for the job set's history; every later one reads the store.
    for (const service of [memory, redis]) {
      await expectState(service.ready.port, terminal, State.SUCCEEDED);
      await expectState(service.ready.port, running, State.RUNNING);
    }
    await expectState(memoryAuth.ready.port, terminal, State.SUCCEEDED, CALLER_AUTHORIZATION);
    const keys = { terminal, running };
    const subjects: Subject[] = [
      { name: "empty handler", service: empty, key: terminal },
      ...(["memory", "redis"] as const).flatMap((store) =>
        scale.readJobKinds.map((kind) => ({ name: `${store}, ${kind} job`, service: store === "memory" ? memory : redis, key: keys[kind] })),
      ),
      { name: AUTH_SUBJECT, service: memoryAuth, key: terminal, headers: CALLER_AUTHORIZATION },
    ];
    const grpcRun = (subject: Subject, rpsPerClient?: number): Promise<LoadResult> =>
      h2load({
        url: `http://127.0.0.1:${subject.service.ready.port}${GET_JOB_STATUS_PATH}`,
        body: grpcRequestBody(subject.key),
        headers: { ...GRPC_HEADERS, ...subject.headers },
        clients: rpsPerClient === undefined ? H2_CLIENTS : OPEN_LOOP_CLIENTS,
        streamsPerClient: rpsPerClient === undefined ? CONCURRENCY / H2_CLIENTS : CONCURRENCY,
        durationS: scale.loadSeconds,
        warmUpS: scale.warmUpSeconds,
        rpsPerClient,
      });
    /**
     * The offered rate as a steady stream: h2load's --rps timer fires at most
     * every 10 ms, so a few clients at a high rate each send in bursts; many
     * clients at 100 req/s each, connected a millisecond apart, have their
     * timers spread over those 10 ms.
     */
    const spreadRun = (subject: Subject, rate: number): Promise<LoadResult> =>
      h2load({
        url: `http://127.0.0.1:${subject.service.ready.port}${GET_JOB_STATUS_PATH}`,
        body: grpcRequestBody(subject.key),
        headers: { ...GRPC_HEADERS, ...subject.headers },
        clients: Math.max(1, Math.round(rate / SPREAD_RPS_PER_CLIENT)),
        streamsPerClient: CONCURRENCY,
        durationS: scale.loadSeconds,
        warmUpS: scale.warmUpSeconds,
        rpsPerClient: SPREAD_RPS_PER_CLIENT,
        connectEveryMs: SPREAD_CONNECT_EVERY_MS,
      });
    const jsonRun = (subject: Subject): Promise<LoadResult> =>
      autocannon({
        url: `http://127.0.0.1:${subject.service.ready.port}${GET_JOB_STATUS_PATH}`,
        body: connectJsonBody(subject.key),
        headers: { ...JSON_HEADERS, ...subject.headers },
        connections: CONCURRENCY,
        durationS: scale.loadSeconds,
      });

    context.log("read path: warming up every service");
    for (const subject of subjects.filter((s) => s.key === terminal)) {
      await grpcRun(subject);
      await jsonRun(subject);
    }

    // HTTP/2 only, so it joins the gRPC runs: the floor under the empty handler itself.
    const bareConnect: Subject = { name: BARE_CONNECT, service: bare, key: terminal };
    const rawListener: Subject = { name: RAW_LISTENER, service: raw, key: terminal };
    await grpcRun(bareConnect);
    await grpcRun(rawListener);
    await jsonRun(rawListener);
    const closedLoop: Record<Protocol, Map<string, LoadResult[]>> = {
      "gRPC h2c": await measure(context, "gRPC h2c, concurrency 64", [...subjects, bareConnect, rawListener], scale.rounds, (s) => grpcRun(s)),
      "Connect JSON HTTP/1.1": await measure(context, "Connect JSON, concurrency 64", [...subjects, rawListener], scale.rounds, jsonRun),
    };
    // The raw constant joins the open-loop runs: the tail the load generator and the listener give without any handler.
    const openSubjects = [...subjects.filter((s) => s.key === terminal), rawListener];
    // The offered load as a steady stream (the target) and, at the target's rate, as the bursts a few fast h2load clients send.
    const spreadLoop = new Map<number, Map<string, LoadResult[]>>();
    for (const rate of scale.offeredRates) {
      spreadLoop.set(rate, await measure(context, `gRPC h2c at ${rate} req/s (spread)`, openSubjects, scale.rounds, (s) => spreadRun(s, rate)));
    }
    const burstLoop = new Map<number, Map<string, LoadResult[]>>([
      [
        TARGET_RPS,
        await measure(context, `gRPC h2c at ${TARGET_RPS} req/s (bursts)`, openSubjects, scale.rounds, (s) => grpcRun(s, TARGET_RPS / OPEN_LOOP_CLIENTS)),
      ],
    ]);

    const rows: Row[] = [];
    const targets: TargetCheck[] = [];
    const grpcResults = closedLoop["gRPC h2c"];
    const emptyRps = (grpcResults.get("empty handler") ?? []).map((r) => r.rps);
    const bareRps = (grpcResults.get(BARE_CONNECT) ?? []).map((r) => r.rps);
    rows.push({
      measure: `Read throughput, gRPC h2c, c=${CONCURRENCY}`,
      subject: "empty handler on the service's listener",
      baseline: BARE_CONNECT,
      ratio: pairedRatio(emptyRps, bareRps),
      absolute: `${fixed(median(emptyRps))} / ${fixed(median(bareRps))} req/s`,
    });
    for (const [protocol, results] of Object.entries(closedLoop) as [Protocol, Map<string, LoadResult[]>][]) {
      const baseline = results.get("empty handler") ?? [];
      for (const subject of subjects.slice(1)) {
        const runs = results.get(subject.name) ?? [];
        rows.push({
          measure: `Read throughput, ${protocol}, c=${CONCURRENCY}`,
          subject: subject.name,
          baseline: "empty handler, same listener",
          ratio: pairedRatio(
            runs.map((r) => r.rps),
            baseline.map((r) => r.rps),
          ),
          absolute: `${fixed(median(runs.map((r) => r.rps)))} / ${fixed(median(baseline.map((r) => r.rps)))} req/s; p50 ${fixed(median(runs.map((r) => r.p50Ms)), 2)} ms, p99 ${fixed(median(runs.map((r) => r.p99Ms)), 2)} ms, max ${fixed(Math.max(...runs.map((r) => r.maxMs)), 1)} ms`,
        });
      }
      for (const [store, floor] of [
        ["memory", 0.85],
        ["redis", 0.6],
      ] as const) {
        const worst = Math.min(
          ...subjects
            .filter((s) => s.name.startsWith(store))
            .map((s) =>
              pairedRatio(
                (results.get(s.name) ?? []).map((r) => r.rps),
                baseline.map((r) => r.rps),
              ),
            ),
        );
        targets.push({
          target: `Read path on ${store} ≥ ${percent(floor)} of the empty handler, ${protocol}, c=${CONCURRENCY}`,
          measured: `${percent(worst)}${scale.readJobKinds.length > 1 ? " (worse of terminal / running job)" : " (terminal job)"}`,
          met: worst >= floor,
        });
      }
      const rawRps = (results.get(RAW_LISTENER) ?? []).map((r) => r.rps);
      for (const subject of subjects.filter((s) => s.name !== AUTH_SUBJECT)) {
        const runs = (results.get(subject.name) ?? []).map((r) => r.rps);
        rows.push({
          measure: `Read throughput against the runtime, ${protocol}, c=${CONCURRENCY}`,
          subject: subject.name,
          baseline: RAW_LISTENER,
          ratio: pairedRatio(runs, rawRps),
          absolute: `${fixed(median(runs))} / ${fixed(median(rawRps))} req/s`,
        });
      }
      for (const store of ["memory", "redis"] as const) {
        const worst = Math.min(
          ...subjects
            .filter((s) => s.name.startsWith(`${store},`))
            .map((s) =>
              pairedRatio(
                (results.get(s.name) ?? []).map((r) => r.rps),
                rawRps,
              ),
            ),
        );
        targets.push({
          target: `Read path on ${store} ≥ ${percent(OF_RAW_TARGET)} of a raw constant on the same listener, ${protocol}, c=${CONCURRENCY}`,
          measured: `${percent(worst)}${scale.readJobKinds.length > 1 ? " (worse of terminal / running job)" : " (terminal job)"}`,
          met: worst >= OF_RAW_TARGET,
        });
      }
      const withAuth = (results.get(AUTH_SUBJECT) ?? []).map((r) => r.rps);
      const withoutAuth = (results.get(NO_AUTH_SUBJECT) ?? []).map((r) => r.rps);
      const authRatio = pairedRatio(withAuth, withoutAuth);
      rows.push({
        measure: `Read throughput with caller auth, ${protocol}, c=${CONCURRENCY}`,
        subject: AUTH_SUBJECT,
        baseline: `${NO_AUTH_SUBJECT}, no auth`,
        ratio: authRatio,
        absolute: `${fixed(median(withAuth))} / ${fixed(median(withoutAuth))} req/s`,
      });
      targets.push({
        target: `Read path with armada auth on a cache hit ≥ 90 % of no auth, ${protocol}, c=${CONCURRENCY}`,
        measured: percent(authRatio),
        met: authRatio >= 0.9,
      });
    }
    const latency = (rate: number, results: Map<string, LoadResult[]>, generator: string, checked: boolean): void => {
      const openBaseline = results.get("empty handler") ?? [];
      const rawP99 = median((results.get(RAW_LISTENER) ?? []).map((r) => r.p99Ms));
      for (const subject of openSubjects) {
        const runs = results.get(subject.name) ?? [];
        const isBaseline = subject.name === "empty handler" || subject === rawListener;
        rows.push({
          measure: `Read latency, gRPC h2c, ${fixed(rate)} req/s offered (${generator})`,
          subject: subject.name,
          baseline: isBaseline ? "—" : "empty handler, same listener (p99 ratio)",
          ratio: isBaseline
            ? null
            : pairedRatio(
                runs.map((r) => r.p99Ms),
                openBaseline.map((r) => r.p99Ms),
              ),
          absolute: `p50 ${fixed(median(runs.map((r) => r.p50Ms)), 2)} ms, p99 ${fixed(median(runs.map((r) => r.p99Ms)), 2)} ms / ${fixed(median(openBaseline.map((r) => r.p99Ms)), 2)} ms; achieved ${fixed(median(runs.map((r) => r.rps)))} req/s`,
        });
        if (!checked || isBaseline || rate !== TARGET_RPS) continue;
        const p99 = median(runs.map((r) => r.p99Ms));
        targets.push({
          target: `p99 ≤ 5 ms at ${fixed(rate)} req/s offered (${subject.name})`,
          measured: `${fixed(p99, 2)} ms (the raw constant on the same listener, same load: ${fixed(rawP99, 2)} ms)`,
          met: p99 <= 5,
        });
      }
    };
    for (const [rate, results] of spreadLoop)
      latency(rate, results, `${fixed(rate / SPREAD_RPS_PER_CLIENT)} clients × ${SPREAD_RPS_PER_CLIENT} req/s, spread`, true);
    for (const [rate, results] of burstLoop) latency(rate, results, `${OPEN_LOOP_CLIENTS} clients × ${fixed(rate / OPEN_LOOP_CLIENTS)} req/s, bursts`, false);
    const runtimes = await compareRuntimes(context, terminal, grpcRun);
    rows.push(...runtimes.rows);
    const failed = [...Object.values(closedLoop), ...spreadLoop.values(), ...burstLoop.values(), runtimes.results]
      .flatMap((m) => [...m.values()].flat())
      .reduce((sum, r) => sum + r.failed, 0);
    const notes = [
      `Read path: ${failed} failed requests over all load runs; every service answered the expected state before the load.`,
      `Read latency is measured open loop with h2load, whose \`--rps\` timer fires at most every 10 ms per client. The target is checked on the spread load: ${SPREAD_RPS_PER_CLIENT} req/s per client (one request per client every 10 ms) from as many clients as the rate needs, connected ${SPREAD_CONNECT_EVERY_MS} ms apart (\`-r 1 --rate-period ${SPREAD_CONNECT_EVERY_MS}ms\`), so their timers are spread over those 10 ms. The burst rows are the same rate from ${OPEN_LOOP_CLIENTS} clients, which arrives as one burst of ${TARGET_RPS / 100} requests every 10 ms; h2load's rate mode has no warm-up option, so the spread runs drop the requests started in the warm-up time from its log instead.`,
      ...runtimes.notes,
    ];
    return {
      name: "read path",
      data: {
        closedLoop: Object.fromEntries(Object.entries(closedLoop).map(([p, m]) => [p, Object.fromEntries(m)])),
        spreadLoop: Object.fromEntries([...spreadLoop].map(([rate, m]) => [rate, Object.fromEntries(m)])),
        burstLoop: Object.fromEntries([...burstLoop].map(([rate, m]) => [rate, Object.fromEntries(m)])),
      },
      rows,
      targets,
      notes,
    };
  } finally {
    await Promise.all([empty.stop(), memory.stop(), redis.stop(), bare.stop(), memoryAuth.stop(), raw.stop()]);
  }
}

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE_SERVE: ServeLaunch = { name: "jobservice serve on Node (npm start)", command: process.execPath, args: [`${ROOT}bin/jobservice.js`] };
const BINARY_SERVE: ServeLaunch = { name: "jobservice serve, single binary (Bun)", command: `${ROOT}dist/jobservice`, args: [] };

/**
 * The whole `jobservice serve` process, as users run it, on Node and as the
 * Bun single binary (when dist/jobservice is built): gRPC read throughput on
 * the memory store and the resident memory after that load.
 */
async function compareRuntimes(
  context: BenchContext,
  key: JobKey,
  grpcRun: (subject: Subject) => Promise<LoadResult>,
): Promise<{ rows: Row[]; notes: string[]; results: Map<string, LoadResult[]> }> {
  const launches = [NODE_SERVE];
  const notes: string[] = [];
  try {
    accessSync(BINARY_SERVE.command, constants.X_OK);
    launches.push(BINARY_SERVE);
  } catch {
    notes.push("Read path of the single binary not measured: no executable at dist/jobservice (npm run build:binary).");
  }
  const env = { ARMADA_URL: context.simulator.ready.url, JOBSERVICE_STORE: "memory" };
  const started = await Promise.all(launches.map(async (launch) => ({ launch, service: await startServe(launch, env) })));
  try {
    const subjects: Subject[] = started.map(({ launch, service }) => ({ name: launch.name, service, key }));
    for (const subject of subjects) {
      await expectState(subject.service.ready.port, key, State.SUCCEEDED);
      await grpcRun(subject);
    }
    const results = await measure(context, "gRPC h2c, jobservice serve per runtime", subjects, context.scale.rounds, (s) => grpcRun(s));
    const rps = (name: string): number[] => (results.get(name) ?? []).map((r) => r.rps);
    const memory = new Map<string, { rssMiB: number; peakMiB: number }>();
    for (const subject of subjects) memory.set(subject.name, await subject.service.call<{ rssMiB: number; peakMiB: number }>("memory"));
    const rows: Row[] = [];
    for (const subject of subjects) {
      const isBaseline = subject.name === NODE_SERVE.name;
      const own = memory.get(subject.name);
      const node = memory.get(NODE_SERVE.name);
      rows.push({
        measure: `Read throughput, gRPC h2c, c=${CONCURRENCY}, the whole process (memory store, terminal job)`,
        subject: subject.name,
        baseline: isBaseline ? "—" : NODE_SERVE.name,
        ratio: isBaseline ? null : pairedRatio(rps(subject.name), rps(NODE_SERVE.name)),
        absolute: `${fixed(median(rps(subject.name)))} req/s`,
      });
      rows.push({
        measure: "Resident memory after the read load",
        subject: subject.name,
        baseline: isBaseline ? "—" : NODE_SERVE.name,
        ratio: isBaseline || !own || !node ? null : own.rssMiB / node.rssMiB,
        absolute: own ? `${fixed(own.rssMiB)} MiB (peak ${fixed(own.peakMiB)} MiB)` : "not read",
      });
    }
    return { rows, notes, results };
  } finally {
    await Promise.all(started.map(({ service }) => service.stop()));
  }
}

async function measure(
  context: BenchContext,
  label: string,
  subjects: readonly Subject[],
  rounds: number,
  run: (subject: Subject) => Promise<LoadResult>,
): Promise<Map<string, LoadResult[]>> {
  context.log(`read path: ${label}, ${rounds} alternating rounds`);
  const contenders: Contender<LoadResult>[] = subjects.map((subject) => ({ name: subject.name, run: () => run(subject) }));
  return alternate(rounds, contenders, (name, result) =>
    context.log(`  ${name}: ${fixed(result.rps)} req/s, p99 ${fixed(result.p99Ms, 2)} ms${result.failed ? `, ${result.failed} failed` : ""}`),
  );
}

async function expectState(port: number, key: JobKey, expected: State, headers: Readonly<Record<string, string>> = {}): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}${GET_JOB_STATUS_PATH}`, {
    method: "POST",
    headers: { ...JSON_HEADERS, ...headers },
    body: connectJsonBody(key),
  });
  const body = (await response.json()) as { state?: string };
  const state = body.state ?? State[State.SUBMITTED];
  if (state !== State[expected]) throw new Error(`the service answered ${JSON.stringify(body)} for ${key.jobId}, expected ${State[expected]}`);
}
