import type { Http2Session } from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { getRequestListener } from "@hono/node-server";
import { Event, type EventStreamMessage } from "../gen/api/event_pb.js";
import { Jobs } from "../gen/api/job_pb.js";
import { QueueService, Submit } from "../gen/api/submit_pb.js";
import { answerUnknownRpc } from "../server/unknown-rpc.js";
import type { Credential } from "./access.js";
import { createArmada, type EventInit, type SubmitItemInit } from "./armada.js";
import { systemClock, type Clock } from "./clock.js";
import { startBulkLoad, type BulkLoad, type BulkLoadOptions } from "./bulk.js";
import { controlApp } from "./control.js";
import { streamMessage } from "./event-log.js";
import { eventService } from "./event-service.js";
import { createFaults, type Faults } from "./faults.js";
import { listenH2c, type H2cServer } from "./h2c-server.js";
import type { JobView } from "./job-runner.js";
import { DEFAULT_LIFECYCLE, SIMULATOR_REQUESTOR, validateLifecycle, type LifecycleConfig } from "./lifecycle.js";
import { createObservations, type ObservedCall } from "./observations.js";
import { createStreamRegistry } from "./streams.js";
import { queueService } from "./queue-service.js";
import { createQueryView, queryService } from "./query-service.js";
import { submitService } from "./submit-service.js";

export type { Credential } from "./access.js";
export type { BulkJob, BulkLoad, BulkLoadOptions } from "./bulk.js";
export type { EventInit, SubmitItemInit } from "./armada.js";
export { createManualClock, systemClock, type Clock, type ManualClock } from "./clock.js";
export type { Faults, FaultState } from "./faults.js";
export type { JobView } from "./job-runner.js";
export { DEFAULT_LIFECYCLE, type JobOutcome, type LifecycleConfig, type Range, type TerminalState } from "./lifecycle.js";
export { compareMessageIds, parseMessageId } from "./message-id.js";
export type { ObservedCall } from "./observations.js";
export { STEERING_KEYS } from "./steering.js";

export interface SimulatorOptions {
  /** Defaults to 127.0.0.1. */
  readonly host?: string;
  /** 0 (the default) picks a free port. */
  readonly port?: number;
  /** Same seed, same submissions → same job ids (on the same clock), same lifecycles. Defaults to 1. */
  readonly seed?: number;
  /** Defaults to the system clock; tests pass a manual clock or short durations. */
  readonly clock?: Clock;
  readonly lifecycle?: Partial<LifecycleConfig>;
  /** Queues that exist from the start. */
  readonly queues?: readonly string[];
  /** When given, every call must authenticate with one of these. */
  readonly credentials?: readonly Credential[];
  /** How far api.Jobs (Lookout) lags the event log, in ms; 0 (the default) answers from every event. */
  readonly queryLagMs?: number;
}

export interface Simulator {
  /** e.g. "http://127.0.0.1:40123": h2c only, so clients must use HTTP/2 with prior knowledge. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly seed: number;
  readonly clock: Clock;
  readonly faults: Faults;
  createQueue(name: string): void;
  /** Submits jobs like SubmitJobs; returns their ids. Annotations steer outcomes (see STEERING_KEYS). */
  submit(queue: string, jobSetId: string, items: readonly SubmitItemInit[], owner?: string): string[];
  /** Cancels jobs (the whole job set without `jobIds`); returns the ids cancelled. */
  cancel(queue: string, jobSetId: string, jobIds?: readonly string[], reason?: string): string[];
  /** Appends raw events as one event sequence; returns their message ids. The queue must exist. */
  appendEvents(queue: string, jobSetId: string, events: readonly EventInit[]): string[];
  /** Appends bytes sent as they are in the place of events, one message each, as one event sequence; returns their ids. */
  appendRawEvents(queue: string, jobSetId: string, payloads: readonly Uint8Array[]): string[];
  /** The job set's log as a client reading from the start would receive it. */
  events(queue: string, jobSetId: string): EventStreamMessage[];
  /** Every submitted job with the outcome its events lead to (bulk-loaded jobs are in their BulkLoad). */
  jobs(): JobView[];
  /** Starts appending N job sets × M jobs at a target event rate; the result lists every job's outcome. */
  bulkLoad(options: BulkLoadOptions): BulkLoad;
  calls(filter?: { readonly method?: string }): ObservedCall[];
  openStreams(filter?: { readonly queue?: string; readonly jobSetId?: string }): number;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 1000;

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const host = options.host ?? "127.0.0.1";
  const clock = options.clock ?? systemClock;
  const seed = options.seed ?? 1;
  const lifecycle = validateLifecycle({ ...DEFAULT_LIFECYCLE, ...options.lifecycle });
  const armada = createArmada({ clock, seed, lifecycle });
  for (const queue of options.queues ?? []) armada.createQueue(queue);

  // Faults need to cut connections of a server that needs the faults first.
  let server: H2cServer | undefined;
  const disconnect = (except?: Http2Session): number => server?.disconnect(except) ?? 0;
  const streams = createStreamRegistry();
  const faults = createFaults(clock, streams, () => disconnect(), options.credentials);
  const observations = createObservations(clock.now);
  const deps = { armada, gate: faults, streams, observations };

  const control = getRequestListener(controlApp({ armada, faults, observations, streams, disconnect }).fetch, { autoCleanupIncoming: false });
  const handler = connectNodeAdapter({
    routes: (router) => {
      router.service(Event, eventService(deps));
      router.service(Submit, submitService(deps));
      router.service(QueueService, queueService(deps));
      router.service(Jobs, queryService(deps, createQueryView(armada.log, clock, options.queryLagMs ?? 0)));
    },
    fallback: (req, res) => {
      // Control requests are JSON POSTs, which would otherwise look like
      // Connect calls to methods we do not serve.
      const isControl = /^\/(control|healthz)(\/|\?|$)/.test(req.url ?? "");
      // Hono's listener takes Node's own response types; connect-node only
      // loosens write()'s callback type, so these are the same objects.
      if (isControl || !answerUnknownRpc(req, res)) void control(req, res as Parameters<typeof control>[1]);
    },
  });
  server = await listenH2c(handler, host, options.port ?? 0);
  const port = server.port;
  const urlHost = host.includes(":") ? `[${host}]` : host;

  const loads = new Set<BulkLoad>();
  let closing: Promise<void> | undefined;
  return {
    url: `http://${urlHost}:${port}`,
    host,
    port,
    seed,
    clock,
    faults,
    createQueue: (name) => armada.createQueue(name),
    submit: (queue, jobSetId, items, owner = "anonymous") => armada.submit({ queue, jobSetId }, items, owner),
    cancel: (queue, jobSetId, jobIds, reason = "cancelled by request") => armada.cancel({ queue, jobSetId }, jobIds, SIMULATOR_REQUESTOR, reason),
    appendEvents: (queue, jobSetId, events) => armada.appendEvents({ queue, jobSetId }, events),
    appendRawEvents: (queue, jobSetId, payloads) => armada.appendRawEvents({ queue, jobSetId }, payloads),
    events: (queue, jobSetId) => armada.log.after({ queue, jobSetId }).map(streamMessage),
    jobs: () => armada.jobs(),
    bulkLoad(bulkOptions) {
      const load = startBulkLoad(armada, clock, bulkOptions);
      loads.add(load);
      void load.done.then(() => loads.delete(load));
      return load;
    },
    calls: (filter) => observations.calls(filter),
    openStreams: (filter) => streams.count(filter),
    close() {
      closing ??= shutDown();
      return closing;
    },
  };

  async function shutDown(): Promise<void> {
    armada.stop();
    for (const load of loads) load.stop();
    faults.unstall();
    streams.dropAll(new ConnectError("the simulator is shutting down", Code.Unavailable));
    await server?.close(CLOSE_GRACE_MS);
  }
}
