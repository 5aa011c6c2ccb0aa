import { Code, ConnectError } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { Event } from "../gen/api/event_pb.js";
import { createConcurrencyLimit } from "./concurrency-limit.js";
import { createArmadaConnections, type ArmadaConnections } from "./connections.js";
import { pooledTransport } from "./pooled-transport.js";

/** What Armada said about one caller and one queue. */
export type ArmadaVerdict = "allowed" | "unauthenticated" | "permission-denied" | "no-such-queue";

export interface WatchQuestion {
  /** The caller's own `authorization` value, passed on untouched. */
  readonly authorization: string;
  readonly queue: string;
  readonly jobSetId: string;
  /** Where the service already is in the job set, so Armada has little or nothing to send. */
  readonly fromMessageId: string;
}

/** Asks Armada whether a caller may watch a queue; UNAVAILABLE when Armada cannot say. */
export interface ArmadaWatchCheck {
  ask(question: WatchQuestion): Promise<ArmadaVerdict>;
  close(): void;
}

export interface ArmadaWatchCheckOptions {
  readonly url: string;
  readonly caFile?: string;
  readonly timeoutMs: number;
  /** Checks in flight at once; more wait in arrival order, so a flood of distinct credentials cannot flood Armada. */
  readonly maxConcurrent: number;
  /** The service's connections to Armada, shared with its other calls; one connection of its own when absent. */
  readonly connections?: ArmadaConnections;
}

/** Keep-alive of the check's own connection, when it has one. */
const OWN_KEEPALIVE = { keepaliveIntervalMs: 30_000, keepaliveTimeoutMs: 10_000 };

/**
 * The cheapest call on which Armada applies its own watch permission:
 * `GetJobSetEvents` with `watch=false` from the job set's current cursor.
 * Armada checks the credentials and the queue permission before it sends an
 * event, so the first event, or the end of the (short) backlog, means
 * "allowed", and the stream is cancelled there. Response headers alone prove
 * nothing: some servers send them before checking.
 */
export function createArmadaWatchCheck(options: ArmadaWatchCheckOptions): ArmadaWatchCheck {
  const connections =
    options.connections ??
    createArmadaConnections({ url: options.url, caFile: options.caFile, maxConnections: 1, maxStreamsPerConnection: options.maxConcurrent, ...OWN_KEEPALIVE });
  const transport = pooledTransport(connections);
  const gate = createConcurrencyLimit(options.maxConcurrent);

  async function askOnce(question: WatchQuestion): Promise<ArmadaVerdict> {
    const cancel = new AbortController();
    const deadline = setTimeout(() => cancel.abort(), options.timeoutMs);
    try {
      const response = await transport.stream(
        Event.method.getJobSetEvents,
        cancel.signal,
        options.timeoutMs,
        { authorization: question.authorization },
        createAsyncIterable([{ id: question.jobSetId, queue: question.queue, fromMessageId: question.fromMessageId, watch: false, errorIfMissing: false }]),
      );
      for await (const _ of response.message) break;
      return "allowed";
    } catch (error) {
      const code = ConnectError.from(error).code;
      if (code === Code.Unauthenticated) return "unauthenticated";
      if (code === Code.PermissionDenied) return "permission-denied";
      if (code === Code.NotFound) return "no-such-queue";
      throw new ConnectError(`cannot check the caller's permission with Armada (${Code[code] ?? code}); try again`, Code.Unavailable);
    } finally {
      clearTimeout(deadline);
      cancel.abort();
    }
  }

  return {
    async ask(question) {
      // A released slot goes straight to the longest waiting check, so a newcomer never overtakes it.
      const release = await gate.acquire(NEVER);
      try {
        return await askOnce(question);
      } finally {
        release();
      }
    },
    close() {
      if (!options.connections) connections.close();
    },
  };
}

/** A check waits for its turn however long: each one in flight is bounded by its own deadline. */
const NEVER = new AbortController().signal;
