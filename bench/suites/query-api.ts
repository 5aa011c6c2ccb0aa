import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { fileURLToPath } from "node:url";
import { Event } from "../../src/gen/api/event_pb.js";
import { JobStatusRequestSchema, JobState, Jobs } from "../../src/gen/api/job_pb.js";
import { JobSubmitRequestSchema } from "../../src/gen/api/submit_pb.js";
import { alternate } from "../lib/alternate.js";
import { startServe, type ServeLaunch } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { grpcFrame } from "../lib/grpc-frame.js";
import { h2load, type LoadResult } from "../lib/load.js";
import { fixed, type Row, type SuiteOutcome } from "../lib/report.js";
import { median, pairedRatio } from "../lib/stats.js";

const GRPC_HEADERS = { "content-type": "application/grpc", te: "trailers" };
const STATUS_PATH = "/api.Jobs/GetJobStatus";
const SUBMIT_PATH = "/api.Submit/SubmitJobs";
const CLIENTS = 4;
const STREAMS = 16;
// Submits create real jobs in the simulator: a light, fixed offered load keeps their number bounded.
const SUBMIT_RPS_PER_CLIENT = 50;
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NODE_SERVE: ServeLaunch = { name: "jobservice serve on Node (npm start)", command: process.execPath, args: [`${ROOT}bin/jobservice.js`] };

/**
 * Armada's Query API: GetJobStatus for 1 and 100 job ids answered by the
 * service from its cache, against the same call answered by the simulator
 * (the upstream's own cost per poll: Lookout modelled in memory, so a real
 * Armada costs more); and what the passthrough adds to SubmitJobs.
 */
export async function queryApiSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { scale, simulator } = context;
  const ready = simulator.ready;
  const service = await startServe(NODE_SERVE, { ARMADA_URL: ready.url, JOBSERVICE_ARMADA_PASSTHROUGH: "true", JOBSERVICE_STORE: "memory" });
  try {
    const serviceUrl = `http://127.0.0.1:${service.ready.port}`;
    const ids = await readSetJobIds(ready.url, ready.readSet, 100);
    await warm(serviceUrl, ids);
    const statusBody = (count: number): Buffer => grpcFrame(toBinary(JobStatusRequestSchema, create(JobStatusRequestSchema, { jobIds: ids.slice(0, count) })));
    const submitBody = grpcFrame(
      toBinary(JobSubmitRequestSchema, create(JobSubmitRequestSchema, { queue: ready.readSet.queue, jobSetId: "bench-passthrough", jobRequestItems: [{}] })),
    );
    const load = (url: string, path: string, body: Buffer, rpsPerClient?: number): Promise<LoadResult> =>
      h2load({
        url: `${url}${path}`,
        body,
        headers: GRPC_HEADERS,
        clients: CLIENTS,
        streamsPerClient: STREAMS,
        durationS: scale.loadSeconds,
        warmUpS: scale.warmUpSeconds,
        rpsPerClient,
      });

    const rows: Row[] = [];
    const data: Record<string, unknown> = {};
    for (const count of [1, 100]) {
      context.log(`query api: GetJobStatus, ${count} id(s)`);
      const runs = await alternate(scale.rounds, [
        { name: "simulator", run: () => load(ready.url, STATUS_PATH, statusBody(count)) },
        { name: "service", run: () => load(serviceUrl, STATUS_PATH, statusBody(count)) },
      ]);
      const [sim, svc] = [runs.get("simulator") ?? [], runs.get("service") ?? []];
      data[`getJobStatus${count}`] = { simulator: sim, service: svc };
      rows.push({
        measure: `api.Jobs/GetJobStatus, ${count} id${count > 1 ? "s" : ""}, gRPC h2c, concurrency ${CLIENTS * STREAMS}`,
        subject: "service (from its cache)",
        baseline: "the simulator's own answer (the upstream)",
        ratio: pairedRatio(
          svc.map((r) => r.rps),
          sim.map((r) => r.rps),
        ),
        absolute: `${fixed(median(svc.map((r) => r.rps)))} / ${fixed(median(sim.map((r) => r.rps)))} req/s; p50 ${fixed(median(svc.map((r) => r.p50Ms)), 2)} / ${fixed(median(sim.map((r) => r.p50Ms)), 2)} ms`,
      });
    }

    context.log("query api: SubmitJobs through the passthrough");
    const submits = await alternate(scale.rounds, [
      { name: "direct", run: () => load(ready.url, SUBMIT_PATH, submitBody, SUBMIT_RPS_PER_CLIENT) },
      { name: "passthrough", run: () => load(serviceUrl, SUBMIT_PATH, submitBody, SUBMIT_RPS_PER_CLIENT) },
    ]);
    const [direct, through] = [submits.get("direct") ?? [], submits.get("passthrough") ?? []];
    data.submitJobs = { direct, passthrough: through };
    const added = median(through.map((r) => r.p50Ms)) - median(direct.map((r) => r.p50Ms));
    rows.push({
      measure: `api.Submit/SubmitJobs at ${CLIENTS * SUBMIT_RPS_PER_CLIENT} req/s, gRPC h2c`,
      subject: "through the service's passthrough",
      baseline: "straight to the simulator",
      ratio: null,
      absolute: `p50 ${fixed(median(through.map((r) => r.p50Ms)), 2)} / ${fixed(median(direct.map((r) => r.p50Ms)), 2)} ms (added ${fixed(added, 2)} ms); p99 ${fixed(median(through.map((r) => r.p99Ms)), 2)} / ${fixed(median(direct.map((r) => r.p99Ms)), 2)} ms`,
    });
    const failed = [...Object.values(data)].flatMap((pair) => Object.values(pair as Record<string, LoadResult[]>).flat()).reduce((sum, r) => sum + r.failed, 0);
    return {
      name: "query api",
      data,
      rows,
      targets: [],
      notes: [
        "The simulator answers api.Jobs from an in-memory fold of its event log; a real Armada answers from Lookout's PostgreSQL, so the upstream's real cost per poll is higher than this baseline.",
        `Failed requests over every run: ${failed}.`,
      ],
    };
  } finally {
    await service.stop();
  }
}

/** The first `count` job ids of the read set, from its events. */
async function readSetJobIds(url: string, readSet: { queue: string; jobSetId: string }, count: number): Promise<string[]> {
  const events = createClient(Event, createGrpcTransport({ baseUrl: url }));
  const ids = new Set<string>();
  for await (const message of events.getJobSetEvents({ queue: readSet.queue, id: readSet.jobSetId, watch: false })) {
    const jobId = message.message?.events.value?.jobId;
    if (jobId) ids.add(jobId);
    if (ids.size >= count) break;
  }
  return [...ids];
}

/** Asks once (read-through, which starts following the job set), then until every id is known. */
async function warm(serviceUrl: string, ids: readonly string[]): Promise<void> {
  const jobs = createClient(Jobs, createGrpcTransport({ baseUrl: serviceUrl }));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { jobStates } = await jobs.getJobStatus({ jobIds: [...ids] });
    if (Object.values(jobStates).every((state) => state !== JobState.UNKNOWN)) return;
    if (Date.now() > deadline) throw new Error("the service did not learn the read set's jobs within 60 s");
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
