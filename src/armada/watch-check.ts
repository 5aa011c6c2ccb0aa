import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import { Code, ConnectError, type Transport } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { Event } from "../gen/api/event_pb.js";

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
  /** Checks in flight at once; more wait, so a flood of distinct credentials cannot flood Armada. */
  readonly maxConcurrent: number;
}

/**
 * The cheapest call on which Armada applies its own watch permission:
 * `GetJobSetEvents` with `watch=false` from the job set's current cursor.
 * Armada checks the credentials and the queue permission before it sends an
 * event, so the first event, or the end of the (short) backlog, means
 * "allowed", and the stream is cancelled there. Response headers alone prove
 * nothing: some servers send them before checking.
 */
export function createArmadaWatchCheck(options: ArmadaWatchCheckOptions): ArmadaWatchCheck {
  const baseUrl = new URL(options.url).origin;
  const nodeOptions: SecureClientSessionOptions = options.caFile ? { ca: readFileSync(options.caFile) } : {};
  const manager = new Http2SessionManager(baseUrl, { pingIntervalMs: 30_000, pingTimeoutMs: 10_000 }, nodeOptions);
  const transport: Transport = createGrpcTransport({ baseUrl, sessionManager: manager });
  const gate = createGate(options.maxConcurrent);

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
    ask: (question) => gate(() => askOnce(question)),
    close: () => manager.abort(),
  };
}

/** Runs at most `limit` tasks at once; the rest wait in order. */
function createGate(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
