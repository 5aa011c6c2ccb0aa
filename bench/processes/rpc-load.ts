// A closed-loop gRPC load generator in its own process, for the comparison
// with the naive alternative: the service's GetJobStatus against answering the
// same question by replaying the job set from Armada (GetJobSetEvents with
// watch=false) and scanning it, as a client without the service would.
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Event } from "../../src/gen/api/event_pb.js";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { answerFor } from "../../src/answers/answer.js";
import type { JobKey, JobRecord } from "../../src/store/store.js";
import { jobEventOf } from "../../src/armada/decode-event.js";
import { applyEvent } from "../../src/subscriber/event-to-record.js";
import { serveCommands } from "../lib/serve-commands.js";
import { summarizeLatencies } from "../lib/stats.js";
import type { LoadResult } from "../lib/load.js";

export interface RpcLoadRequest {
  readonly mode: "service" | "naive";
  /** The service's URL for "service", the simulator's for "naive". */
  readonly url: string;
  readonly key: JobKey;
  /** The state a correct answer has; any other answer counts as failed. */
  readonly expected: State;
  readonly concurrency: number;
  readonly durationMs: number;
}

type Ask = (key: JobKey, signal: AbortSignal) => Promise<State>;

const askers = new Map<string, Ask>();

function asker(mode: RpcLoadRequest["mode"], url: string): Ask {
  const name = `${mode} ${url}`;
  let ask = askers.get(name);
  if (ask) return ask;
  const transport = createGrpcTransport({ baseUrl: url });
  if (mode === "service") {
    const client = createClient(JobService, transport);
    ask = async (key, signal) => (await client.getJobStatus(key, { signal })).state;
  } else {
    const client = createClient(Event, transport);
    ask = async (key, signal) => {
      let job: JobRecord | undefined;
      for await (const message of client.getJobSetEvents({ id: key.jobSetId, queue: key.queue, watch: false }, { signal })) {
        const event = jobEventOf(message.message);
        if (event?.jobId === key.jobId) job = applyEvent(job, message.id, event);
      }
      return answerFor({ job, progress: { cursor: "", caughtUp: true, error: "", updatedAt: 0 } }).state;
    };
  }
  askers.set(name, ask);
  return ask;
}

async function run(request: RpcLoadRequest): Promise<LoadResult> {
  const ask = asker(request.mode, request.url);
  const latencies: number[] = [];
  let failed = 0;
  const started = performance.now();
  // Calls still running at the deadline are cancelled and not counted, so every run lasts its duration.
  const deadline = AbortSignal.timeout(request.durationMs);
  const worker = async (): Promise<void> => {
    while (!deadline.aborted) {
      const t0 = performance.now();
      try {
        const state = await ask(request.key, deadline);
        if (state !== request.expected) failed++;
        else latencies.push(performance.now() - t0);
      } catch {
        if (!deadline.aborted) failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: request.concurrency }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  const summary = summarizeLatencies(latencies);
  return { rps: latencies.length / elapsedS, p50Ms: summary.p50Ms, p99Ms: summary.p99Ms, maxMs: summary.maxMs, requests: latencies.length + failed, failed };
}

serveCommands({}, { run }, async () => {});
