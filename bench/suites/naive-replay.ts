import { JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { alternate } from "../lib/alternate.js";
import { processScript, startChild } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import type { LoadResult } from "../lib/load.js";
import { fixed, type SuiteOutcome } from "../lib/report.js";
import { median, pairedRatio } from "../lib/stats.js";
import type { RpcLoadRequest } from "../processes/rpc-load.js";

// Replays all read the same job set from one simulator: more concurrency only lengthens each of them.
const CONCURRENCY = 4;
const TARGET_FACTOR = 50;

/**
 * The service against what it replaces: a client that answers "what state is
 * job X in?" by replaying the job set from Armada and scanning it.
 */
export async function naiveReplaySuite(context: BenchContext): Promise<SuiteOutcome> {
  const { simulator, scale } = context;
  const ready = simulator.ready;
  const key = { ...ready.readSet, jobId: ready.terminalJobId };
  const service = await startChild<{ port: number }>(processScript("service"), { answer: "subscriber", store: { kind: "memory" }, armadaUrl: ready.url });
  const load = await startChild<Record<string, never>>(processScript("rpc-load"), {});
  try {
    const request = (mode: RpcLoadRequest["mode"]): RpcLoadRequest => ({
      mode,
      url: mode === "service" ? `http://127.0.0.1:${service.ready.port}` : ready.url,
      key,
      expected: State.SUCCEEDED,
      concurrency: CONCURRENCY,
      durationMs: scale.naiveSeconds * 1000,
    });
    // Warm both paths (and let the service catch the job set up) before measuring.
    await load.call<LoadResult>("run", { ...request("service"), durationMs: 1000 });
    await load.call<LoadResult>("run", { ...request("naive"), durationMs: 2000 });
    context.log(`naive replay: ${scale.rounds} alternating rounds, concurrency ${CONCURRENCY}`);
    const results = await alternate(
      scale.rounds,
      [
        { name: "naive", run: () => load.call<LoadResult>("run", request("naive")) },
        { name: "service", run: () => load.call<LoadResult>("run", request("service")) },
      ],
      (name, r) => context.log(`  ${name}: ${fixed(r.rps, 1)} answers/s, p50 ${fixed(r.p50Ms, 2)} ms${r.failed ? `, ${r.failed} failed` : ""}`),
    );
    const naive = results.get("naive") ?? [];
    const served = results.get("service") ?? [];
    const ratio = pairedRatio(
      served.map((r) => r.rps),
      naive.map((r) => r.rps),
    );
    const events = ready.readSetEvents;
    return {
      name: "naive replay",
      data: { jobSetEvents: events, concurrency: CONCURRENCY, naive, service: served },
      rows: [
        {
          measure: `Answers/s vs naive replay (1,000-job set, ${fixed(events)} events), gRPC, c=${CONCURRENCY}`,
          subject: "service (memory store)",
          baseline: "GetJobSetEvents(watch=false) + scan per query",
          ratio,
          absolute: `${fixed(median(served.map((r) => r.rps)))} / ${fixed(median(naive.map((r) => r.rps)), 1)} answers/s; p50 ${fixed(median(served.map((r) => r.p50Ms)), 2)} / ${fixed(median(naive.map((r) => r.p50Ms)), 1)} ms`,
        },
      ],
      targets: [{ target: `≥ ${TARGET_FACTOR}× the naive replay for a 1,000-job set`, measured: `${fixed(ratio, 0)}×`, met: ratio >= TARGET_FACTOR }],
      notes: [],
    };
  } finally {
    await Promise.all([service.stop(), load.stop()]);
  }
}
