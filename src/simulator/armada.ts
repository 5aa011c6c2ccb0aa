import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { EventMessageSchema, type EventMessage } from "../gen/api/event_pb.js";
import type { JobSubmitRequestItem } from "../gen/api/submit_pb.js";
import type { JobSetKey } from "../store/store.js";
import type { Clock } from "./clock.js";
import { createEventLog, type EventLog } from "./event-log.js";
import { createJobRunner, type JobView } from "./job-runner.js";
import { planJob, type JobIdentity, type JobPlan, type LifecycleConfig } from "./lifecycle.js";
import { createPrng, type Prng } from "./prng.js";
import { readSteering } from "./steering.js";
import { createUlidGenerator } from "./ulid.js";

export type EventInit = MessageInitShape<typeof EventMessageSchema>;
export type SubmitItemInit = Partial<Pick<JobSubmitRequestItem, "priority" | "namespace" | "labels" | "annotations" | "clientId">>;

/**
 * The simulated Armada itself, without any wire: queues, event logs and job
 * lifecycles. Validation failures are ConnectErrors with Armada's codes, so
 * the RPC handlers and in-process callers see the same errors.
 */
export interface Armada {
  readonly log: EventLog;
  createQueue(name: string): void;
  hasQueue(name: string): boolean;
  queues(): string[];
  /** Submits jobs the way SubmitJobs does; returns their ULIDs in item order. */
  submit(jobSet: JobSetKey, items: readonly SubmitItemInit[], owner: string): string[];
  /** Cancels jobs (all the job set's when `jobIds` is undefined); returns the ids cancelled. */
  cancel(jobSet: JobSetKey, jobIds: readonly string[] | undefined, requestor: string, reason: string): string[];
  /** Appends raw events as one event sequence, stamping missing `created` times; returns their message ids. */
  appendEvents(jobSet: JobSetKey, events: readonly EventInit[]): string[];
  /** Appends bytes sent as they are in the place of events (malformed ones, say), as one event sequence; returns their message ids. */
  appendRawEvents(jobSet: JobSetKey, payloads: readonly Uint8Array[]): string[];
  /** A job plan for bulk load: the same planner and generator chain as submit, but nothing is scheduled. */
  plan(jobSet: JobSetKey, item: SubmitItemInit, owner: string): { identity: JobIdentity; plan: JobPlan };
  jobs(): JobView[];
  stop(): void;
}

export interface ArmadaOptions {
  readonly clock: Clock;
  readonly seed: number;
  readonly lifecycle: LifecycleConfig;
}

export function createArmada({ clock, seed, lifecycle }: ArmadaOptions): Armada {
  const queues = new Set<string>();
  const log = createEventLog(clock.now);
  const runner = createJobRunner(log, clock, lifecycle.cancelMs);
  // Per-job seeds come from their own generator in submission order, and each
  // job draws from its own: lifecycles depend on the seed and the order of
  // submissions only, not on timing (ULIDs draw more or less often depending
  // on whether the millisecond changed, so they get a generator of their own).
  const jobSeeds = createPrng(seed);
  const nextUlid = createUlidGenerator(createPrng(seed ^ 0x5bd1e995));

  const requireQueue = (name: string, method: string): void => {
    if (!name) throw new ConnectError(`[${method}] queue is required`, Code.InvalidArgument);
    if (!queues.has(name)) throw new ConnectError(`[${method}] queue ${JSON.stringify(name)} does not exist`, Code.NotFound);
  };
  const requireJobSet = (jobSet: JobSetKey, method: string): void => {
    requireQueue(jobSet.queue, method);
    if (!jobSet.jobSetId) throw new ConnectError(`[${method}] job set id is required`, Code.InvalidArgument);
  };
  const planOne = (jobSet: JobSetKey, item: SubmitItemInit, owner: string, index: number): { identity: JobIdentity; plan: JobPlan; prng: Prng } => {
    const steering = readSteering(item.labels ?? {}, item.annotations ?? {});
    if (!steering.ok) throw new ConnectError(`[SubmitJobs] job_request_items[${index}]: ${steering.error}`, Code.InvalidArgument);
    const identity: JobIdentity = {
      jobId: nextUlid(clock.now()),
      queue: jobSet.queue,
      jobSetId: jobSet.jobSetId,
      namespace: item.namespace || "default",
      priority: item.priority ?? 0,
      owner,
      clientId: item.clientId ?? "",
      annotations: item.annotations ?? {},
    };
    const prng = createPrng(jobSeeds.uint32());
    return { identity, plan: planJob(identity, steering.steering, lifecycle, prng), prng };
  };

  return {
    log,
    createQueue(name) {
      if (!name) throw new ConnectError("[CreateQueue] queue name is required", Code.InvalidArgument);
      if (queues.has(name)) throw new ConnectError(`[CreateQueue] queue ${JSON.stringify(name)} already exists`, Code.AlreadyExists);
      queues.add(name);
    },
    hasQueue: (name) => queues.has(name),
    queues: () => [...queues],
    submit(jobSet, items, owner) {
      requireJobSet(jobSet, "SubmitJobs");
      if (items.length === 0) throw new ConnectError("[SubmitJobs] job_request_items is empty", Code.InvalidArgument);
      // Validate every item before starting any, as Armada rejects a request whole.
      const planned = items.map((item, index) => planOne(jobSet, item, owner, index));
      for (const job of planned) runner.start(job.identity, job.plan, job.prng);
      return planned.map((job) => job.identity.jobId);
    },
    cancel(jobSet, jobIds, requestor, reason) {
      requireJobSet(jobSet, jobIds ? "CancelJobs" : "CancelJobSet");
      return runner.cancel(jobSet, jobIds, requestor, reason);
    },
    appendEvents(jobSet, events) {
      requireJobSet(jobSet, "appendEvents");
      const created = timestampFromMs(clock.now());
      const messages: EventMessage[] = events.map((init) => {
        const message = create(EventMessageSchema, init);
        if (message.events.case !== undefined) message.events.value.created ??= created;
        return message;
      });
      return log.append(jobSet, messages);
    },
    appendRawEvents(jobSet, payloads) {
      requireJobSet(jobSet, "appendRawEvents");
      return log.appendRaw(jobSet, payloads);
    },
    plan(jobSet, item, owner) {
      requireJobSet(jobSet, "bulkLoad");
      const { identity, plan } = planOne(jobSet, item, owner, 0);
      return { identity, plan };
    },
    jobs: () => runner.jobs(),
    stop: () => runner.stop(),
  };
}
