// Clients of the newer RPCs in their own process: closed-loop batch readers,
// and many open WatchJobStatus streams that note when each sees the end.
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import type { JobKey, JobSetKey } from "../../src/store/store.js";
import { serveCommands } from "../lib/serve-commands.js";
import { now } from "./protocol.js";

export interface BatchLoadRequest {
  readonly url: string;
  readonly jobSet: JobSetKey;
  readonly jobIds: readonly string[];
  /** 0: one GetJobStatus per job; otherwise GetJobStatuses with this many ids. */
  readonly batch: number;
  readonly concurrency: number;
  readonly durationMs: number;
}

export interface BatchLoadResult {
  readonly answersPerSecond: number;
  readonly callsPerSecond: number;
  readonly answers: number;
  /** Answers that were not a job's real state (CONNECTION_ERR, JOB_ID_NOT_FOUND) or calls that failed. */
  readonly failed: number;
}

const clients = new Map<string, Client<typeof JobService>>();
function clientFor(url: string, connection = 0): Client<typeof JobService> {
  const name = `${url} ${connection}`;
  let client = clients.get(name);
  if (!client) clients.set(name, (client = createClient(JobService, createGrpcTransport({ baseUrl: url }))));
  return client;
}

const settled = (state: State): boolean => state !== State.CONNECTION_ERR && state !== State.JOB_ID_NOT_FOUND;

async function batchLoad(request: BatchLoadRequest): Promise<BatchLoadResult> {
  const client = clientFor(request.url);
  const ids = request.jobIds;
  let answers = 0;
  let calls = 0;
  let failed = 0;
  let next = 0;
  const take = (count: number): string[] => Array.from({ length: count }, () => ids[next++ % ids.length] as string);
  const deadline = AbortSignal.timeout(request.durationMs);
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (!deadline.aborted) {
      try {
        if (request.batch === 0) {
          const [jobId] = take(1);
          const reply = await client.getJobStatus({ ...request.jobSet, jobId }, { signal: deadline });
          if (settled(reply.state)) answers++;
          else failed++;
        } else {
          const reply = await client.getJobStatuses({ ...request.jobSet, jobIds: take(request.batch) }, { signal: deadline });
          for (const status of Object.values(reply.statuses)) {
            if (settled(status.state)) answers++;
            else failed++;
          }
        }
        calls++;
      } catch {
        if (!deadline.aborted) failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: request.concurrency }, worker));
  const elapsedS = (performance.now() - started) / 1000;
  return { answersPerSecond: answers / elapsedS, callsPerSecond: calls / elapsedS, answers, failed };
}

interface OpenWatches {
  readonly terminalAt: number[];
  readonly failures: string[];
  done: Promise<void>;
  readonly controller: AbortController;
}

let watches: OpenWatches | undefined;

/** Opens `count` watches of `key` over `connections` HTTP/2 connections; resolves once each has its first answer. */
async function openWatches({ url, key, count, connections }: { url: string; key: JobKey; count: number; connections: number }) {
  // A connection's first streams wait for the server's SETTINGS: until then the
  // client allows only 100 at once and cancels the rest. One call each first.
  await Promise.all(Array.from({ length: connections }, (_, i) => clientFor(url, i).health({})));
  const controller = new AbortController();
  const open: OpenWatches = { terminalAt: [], failures: [], done: Promise.resolve(), controller };
  let firsts = 0;
  let allOpen!: () => void;
  const opened = new Promise<void>((resolve) => (allOpen = resolve));
  const watchOne = async (index: number): Promise<void> => {
    const client = clientFor(url, index % connections);
    let first = true;
    try {
      for await (const reply of client.watchJobStatus(key, { signal: controller.signal })) {
        if (first && ++firsts === count) allOpen();
        first = false;
        if (reply.state === State.SUCCEEDED) open.terminalAt.push(now());
      }
    } catch (error) {
      if (!controller.signal.aborted) open.failures.push(error instanceof Error ? error.message : String(error));
      if (first && ++firsts === count) allOpen();
    }
  };
  open.done = Promise.all(Array.from({ length: count }, (_, i) => watchOne(i))).then(() => undefined);
  watches = open;
  await opened;
  return { failures: open.failures.length, firstFailure: open.failures[0] ?? "" };
}

/** Waits until every watch has ended and says when each saw the terminal state. */
async function awaitTerminal({ timeoutMs }: { timeoutMs: number }) {
  const open = watches;
  if (!open) throw new Error("no watches are open");
  const timer = setTimeout(() => open.controller.abort(), timeoutMs);
  await open.done;
  clearTimeout(timer);
  watches = undefined;
  return { terminalAt: open.terminalAt, failures: open.failures.length, firstFailure: open.failures[0] ?? "" };
}

let healthWatches: AbortController | undefined;

/** Opens `count` grpc.health.v1 Watch streams (connect-node's own kind of server stream), for the memory baseline; they stay open until `closeHealthWatches`. */
async function openHealthWatches({ url, count, connections }: { url: string; count: number; connections: number }) {
  const clients = Array.from({ length: connections }, () => createClient(Health, createGrpcTransport({ baseUrl: url })));
  await Promise.all(clients.map((client) => client.check({ service: "" })));
  const controller = new AbortController();
  healthWatches = controller;
  let answered = 0;
  let failures = 0;
  let allAnswered!: () => void;
  const opened = new Promise<void>((resolve) => (allAnswered = resolve));
  const count1 = (): void => {
    if (++answered === count) allAnswered();
  };
  for (let i = 0; i < count; i++) {
    void (async () => {
      let first = true;
      try {
        for await (const _status of (clients[i % connections] as (typeof clients)[number]).watch({ service: "" }, { signal: controller.signal })) {
          if (first) count1();
          first = false;
        }
      } catch {
        if (first) {
          failures++;
          count1();
        }
      }
    })();
  }
  await opened;
  return { failures };
}

async function closeHealthWatches() {
  healthWatches?.abort();
  healthWatches = undefined;
}

serveCommands({}, { batchLoad, openWatches, awaitTerminal, openHealthWatches, closeHealthWatches }, async () => {
  watches?.controller.abort();
  healthWatches?.abort();
});
