// The Armada stand-in under load, in its own process: serves the event API on
// a free loopback port and, on command, bulk-loads job sets or emits the
// single events that freshness probes time.
import { startSimulator, type BulkLoad } from "../../src/simulator/index.js";
import type { JobKey, JobSetKey } from "../../src/store/store.js";
import { processOptions, serveCommands } from "../lib/serve-commands.js";
import { FAST_LIFECYCLE } from "../../test/support/simulator.js";
import { now, type BulkRequest, type BulkSummary, type ProbeStep, type SimulatorReady } from "./protocol.js";

const READ_QUEUE = "bench";
const NEVER_FINISHES_MS = "86400000";

const options = processOptions<{ readJobs: number }>();
const simulator = await startSimulator({ host: "127.0.0.1", port: 0, lifecycle: FAST_LIFECYCLE, queues: [READ_QUEUE] });

// The read path's job set: bulk-loaded jobs that all end, plus one steered to run for a day.
const readLoad = simulator.bulkLoad({ queue: READ_QUEUE, jobSets: 1, jobsPerSet: options.readJobs, eventsPerSecond: Infinity, jobSetPrefix: "read-" });
await readLoad.done;
const readSet: JobSetKey = { queue: READ_QUEUE, jobSetId: "read-0" };
const [runningJobId] = simulator.submit(READ_QUEUE, readSet.jobSetId, [
  { annotations: { "armada-sim/outcome": "succeeded", "armada-sim/duration-ms": NEVER_FINISHES_MS } },
]);
const terminal = readLoad.jobs.find((job) => job.outcome.state === "succeeded") ?? readLoad.jobs[0];
if (!runningJobId || !terminal) throw new Error("the simulator gave no read-path jobs");
await waitFor(() =>
  simulator.events(readSet.queue, readSet.jobSetId).some((m) => m.message?.events.case === "running" && m.message.events.value.jobId === runningJobId),
);

const loads = new Map<string, BulkLoad>();

const ready: SimulatorReady = {
  url: simulator.url,
  port: simulator.port,
  readSet,
  terminalJobId: terminal.jobId,
  runningJobId,
  readSetEvents: simulator.events(readSet.queue, readSet.jobSetId).length,
};

serveCommands(
  ready,
  {
    async bulk(request: BulkRequest): Promise<BulkSummary> {
      loads.get(request.prefix)?.stop();
      const load = simulator.bulkLoad({
        queue: request.queue,
        jobSets: request.jobSets,
        jobsPerSet: request.jobsPerSet,
        eventsPerSecond: request.eventsPerSecond ?? Infinity,
        jobSetPrefix: request.prefix,
      });
      loads.set(request.prefix, load);
      if (request.wait) await load.done;
      const step = Math.max(1, Math.floor(load.jobs.length / Math.max(1, request.sample ?? 1)));
      const sample = request.sample ? load.jobs.filter((_, i) => i % step === 0).slice(0, request.sample) : [];
      return {
        totalEvents: load.totalEvents,
        jobSets: Array.from({ length: request.jobSets }, (_, i) => ({ queue: request.queue, jobSetId: `${request.prefix}${i}` })),
        sample: sample.map((job) => ({ queue: job.queue, jobSetId: job.jobSetId, jobId: job.jobId, state: job.outcome.state })),
      };
    },
    async bulkDone({ prefix }: { prefix: string }) {
      await loads.get(prefix)?.done;
      return { emitted: loads.get(prefix)?.emitted() ?? 0 };
    },
    async bulkStop({ prefix }: { prefix: string }) {
      const load = loads.get(prefix);
      load?.stop();
      return { emitted: load?.emitted() ?? 0 };
    },
    /** CPU time this process has used, in milliseconds: busy time per wall time says who bounds a load. */
    async cpu() {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    },
    async createQueue({ name }: { name: string }) {
      simulator.createQueue(name);
    },
    /** Appends one event for a probe job and says when, on the wall clock all bench processes share. */
    async probe({ key, step }: { key: JobKey; step: ProbeStep }) {
      const value = { jobId: key.jobId, jobSetId: key.jobSetId, queue: key.queue, clusterId: "bench" };
      const events = step === "submitted" ? [{ events: { case: "submitted" as const, value } }] : [{ events: { case: step, value } }];
      const emittedAt = now();
      const [id] = simulator.appendEvents(key.queue, key.jobSetId, events);
      return { emittedAt, id };
    },
  },
  () => simulator.close(),
);

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("the simulator's running job did not start within 30 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
