import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { alternate } from "../lib/alternate.js";
import { processScript, startChild } from "../lib/child.js";
import type { BenchContext } from "../lib/context.js";
import { fixed, type Row, type SuiteOutcome } from "../lib/report.js";
import { median, pairedRatio } from "../lib/stats.js";
import type { BatchLoadResult } from "../processes/api-load.js";
import type { StoreCalls } from "../processes/api-service.js";

const BATCHES = [1, 10, 100, 1_000] as const;
const CONCURRENCY = 16;
const SINGLE = "GetJobStatus, one call per job";

interface Measured extends BatchLoadResult {
  readonly roundTripsPerAnswer: number;
}

const storeReads = (calls: StoreCalls): number => calls.read + calls.readJobs + calls.readJobSet;

/**
 * Answers per second and store round trips per answered job when one caller
 * asks about many jobs of a job set: GetJobStatuses with 1, 10, 100 and
 * 1,000 ids against one GetJobStatus per job, at the same concurrency, over
 * gRPC, from the Redis store the subscriber keeps.
 */
export async function batchReadsSuite(context: BenchContext): Promise<SuiteOutcome> {
  const { scale, simulator } = context;
  const ready = simulator.ready;
  const service = await startChild<{ port: number }>(processScript("api-service"), {
    store: { kind: "redis", url: context.redisUrl },
    armadaUrl: ready.url,
    maxWatches: 100,
  });
  const load = await startChild<Record<string, never>>(processScript("api-load"), {});
  try {
    const url = `http://127.0.0.1:${service.ready.port}`;
    // The first call subscribes and waits for the history; every later one reads the store.
    const client = createClient(JobService, createGrpcTransport({ baseUrl: url }));
    const first = await client.getJobStatus({ ...ready.readSet, jobId: ready.terminalJobId });
    if (first.state !== State.SUCCEEDED) throw new Error(`the read set's terminal job answered ${State[first.state]}`);
    const jobIds = await service.call<string[]>("jobIds", { jobSet: ready.readSet, count: 1_000 });
    if (jobIds.length < 1_000) throw new Error(`the read set holds ${jobIds.length} jobs, expected 1,000`);

    const measure = async (batch: number): Promise<Measured> => {
      const before = storeReads(await service.call<StoreCalls>("storeCalls"));
      const result = await load.call<BatchLoadResult>("batchLoad", {
        url,
        jobSet: ready.readSet,
        jobIds,
        batch,
        concurrency: CONCURRENCY,
        durationMs: scale.loadSeconds * 1000,
      });
      const after = storeReads(await service.call<StoreCalls>("storeCalls"));
      if (result.failed > 0) throw new Error(`${result.failed} answers or calls failed with batch ${batch}`);
      return { ...result, roundTripsPerAnswer: (after - before) / result.answers };
    };
    const contenders = [{ name: SINGLE, run: () => measure(0) }, ...BATCHES.map((batch) => ({ name: `batch ${batch}`, run: () => measure(batch) }))];
    const results = await alternate(scale.rounds, contenders, (name, r) =>
      context.log(`batch reads, ${name}: ${fixed(r.answersPerSecond)} answers/s, ${r.roundTripsPerAnswer.toFixed(4)} store round trips per job`),
    );

    const single = results.get(SINGLE) ?? [];
    const singleRate = single.map((r) => r.answersPerSecond);
    const singleTrips = median(single.map((r) => r.roundTripsPerAnswer));
    const rows: Row[] = BATCHES.map((batch) => {
      const runs = results.get(`batch ${batch}`) ?? [];
      const rates = runs.map((r) => r.answersPerSecond);
      return {
        measure: "Answers per second (gRPC, Redis store, 16 concurrent callers)",
        subject: `GetJobStatuses, ${batch} id${batch === 1 ? "" : "s"} per call`,
        baseline: SINGLE,
        ratio: pairedRatio(rates, singleRate),
        absolute: `${fixed(median(rates))} / ${fixed(median(singleRate))} answers/s; ${median(runs.map((r) => r.roundTripsPerAnswer)).toFixed(4)} / ${singleTrips.toFixed(4)} store round trips per job`,
      };
    });
    return {
      name: "batch-reads",
      data: Object.fromEntries(results),
      rows,
      targets: [],
      notes: [
        `Batch reads: each GetJobStatuses call is one store round trip (readJobSet: HMGET of the ids and GET of the progress in one Lua script), so round trips per job fall as 1/batch; ${CONCURRENCY} callers, ${scale.loadSeconds} s per run, ${scale.rounds} alternating rounds.`,
      ],
    };
  } finally {
    await load.stop();
    await service.stop();
  }
}
