import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Event, type EventStreamMessage } from "../../src/gen/api/event_pb.js";
import { QueueService, Submit } from "../../src/gen/api/submit_pb.js";
import type { LifecycleConfig, Simulator } from "../../src/simulator/index.js";

/** Lifecycles of a few milliseconds, for tests on the system clock. */
export const FAST_LIFECYCLE: Partial<LifecycleConfig> = {
  queuedMs: [1, 3],
  pendingMs: [1, 3],
  startMs: [1, 3],
  runMs: [2, 6],
  cancelMs: [1, 2],
};

export interface ArmadaClients {
  readonly events: Client<typeof Event>;
  readonly submit: Client<typeof Submit>;
  readonly queues: Client<typeof QueueService>;
}

/** Plain gRPC clients over h2c, as any Armada client would connect: no subscriber code involved. */
export function armadaClients(baseUrl: string, authorization?: string): ArmadaClients {
  const withAuth: Interceptor = (next) => (request) => {
    if (authorization !== undefined) request.header.set("authorization", authorization);
    return next(request);
  };
  const transport = createGrpcTransport({ baseUrl, interceptors: [withAuth] });
  return { events: createClient(Event, transport), submit: createClient(Submit, transport), queues: createClient(QueueService, transport) };
}

export function basicAuth(user: string, password: string, scheme = "basic"): string {
  return `${scheme} ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/**
 * Reads a server stream until it ends, `count` messages arrived, or `timeoutMs`
 * passed; then cancels it. Never waits longer than `timeoutMs`.
 */
export async function readStream(
  open: (signal: AbortSignal) => AsyncIterable<EventStreamMessage>,
  { count = Number.POSITIVE_INFINITY, timeoutMs = 2000 }: { count?: number; timeoutMs?: number } = {},
): Promise<{ messages: EventStreamMessage[]; ended: boolean }> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error("readStream timeout")), timeoutMs);
  const messages: EventStreamMessage[] = [];
  try {
    for await (const message of open(controller.signal)) {
      messages.push(message);
      if (messages.length >= count) return { messages, ended: false };
    }
    return { messages, ended: true };
  } catch (error) {
    if (controller.signal.aborted) return { messages, ended: false };
    throw error;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** Waits until `check` holds, polling every few milliseconds, for at most `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Waits until the simulator has finished every listed job. */
export function jobsDone(sim: Simulator, ids: readonly (string | undefined)[], timeoutMs = 10_000): Promise<void> {
  return eventually(
    () =>
      sim
        .jobs()
        .filter((j) => ids.includes(j.jobId))
        .every((j) => j.done),
    timeoutMs,
  );
}

/** A minimal raw event for appendEvents. */
export function queuedEvent(jobId: string) {
  return { events: { case: "queued" as const, value: { jobId } } };
}

export function caseOf(message: EventStreamMessage): string {
  return message.message?.events.case ?? "";
}
