import { Code, ConnectError } from "@connectrpc/connect";
import { codeFromString, codeToString } from "@connectrpc/connect/protocol-connect";
import { authenticate, type Caller, type Credential } from "./access.js";
import type { Clock } from "./clock.js";
import type { StreamRegistry } from "./streams.js";

/** Faults on demand: what the in-process API and the HTTP control surface both drive. */
export interface Faults {
  /** Ends every open GetJobSetEvents stream with `code` (UNAVAILABLE by default); returns how many. */
  dropStreams(code?: Code, message?: string): number;
  /** Destroys every HTTP/2 connection without a status, like a network cut; returns how many. */
  disconnect(): number;
  /** Streams stay open but send nothing for `ms`; events queue up and flow afterwards. */
  stall(ms: number): void;
  /** Ends a stall early. */
  unstall(): void;
  /** The next `count` calls (of `method` only, when given: "GetJobSetEvents" or "api.Event/GetJobSetEvents") fail with `code`. */
  refuse(count: number, code: Code, options?: { readonly method?: string; readonly message?: string }): void;
  /** Delays the start of every call by `ms`. */
  setLatency(ms: number): void;
  /** From now on every call needs one of these credentials; each may be limited to some queues. */
  requireAuth(credentials: readonly Credential[]): void;
  disableAuth(): void;
  /** Clears stall, refusals and latency, and puts auth back as the simulator started. */
  reset(): void;
  state(): FaultState;
}

export interface FaultState {
  readonly latencyMs: number;
  /** Milliseconds since the epoch (simulator clock) when the stall ends; 0 when not stalled. */
  readonly stalledUntil: number;
  readonly refusals: readonly { readonly remaining: number; readonly code: string; readonly method?: string }[];
  readonly authRequired: boolean;
  readonly credentials: number;
  readonly openStreams: number;
}

/** What the RPC handlers consult on every call. */
export interface CallGate {
  /** Applies latency, refusals and authentication, in that order; returns the caller. */
  admit(method: string, authorization: string | null, signal: AbortSignal): Promise<Caller>;
  /** Resolves once no stall is in force; rejects when `signal` aborts. */
  whileStalled(signal: AbortSignal): Promise<void>;
}

interface Refusal {
  remaining: number;
  readonly code: Code;
  readonly method?: string;
  readonly message?: string;
}

export function createFaults(clock: Clock, streams: StreamRegistry, disconnect: () => number, startupCredentials?: readonly Credential[]): Faults & CallGate {
  let latencyMs = 0;
  let stalledUntil = 0;
  let cancelStallTimer: (() => void) | undefined;
  const stallWaiters = new Set<() => void>();
  let refusals: Refusal[] = [];
  let credentials = startupCredentials;

  const endStall = (): void => {
    stalledUntil = 0;
    cancelStallTimer?.();
    cancelStallTimer = undefined;
    for (const release of [...stallWaiters]) release();
  };
  const stalled = (): boolean => stalledUntil > 0 && clock.now() < stalledUntil;

  const takeRefusal = (method: string): Refusal | undefined => {
    const rule = refusals.find((r) => r.method === undefined || r.method === method || method.endsWith(`/${r.method}`));
    if (!rule) return undefined;
    rule.remaining--;
    refusals = refusals.filter((r) => r.remaining > 0);
    return rule;
  };

  return {
    dropStreams: (code = Code.Unavailable, message = "stream dropped by the simulator") => streams.dropAll(new ConnectError(message, code)),
    disconnect,
    stall(ms) {
      endStall();
      stalledUntil = clock.now() + ms;
      cancelStallTimer = clock.schedule(ms, endStall);
    },
    unstall: endStall,
    refuse(count, code, options) {
      if (count > 0) refusals.push({ remaining: count, code, method: options?.method, message: options?.message });
    },
    setLatency(ms) {
      latencyMs = Math.max(0, ms);
    },
    requireAuth(list) {
      credentials = [...list];
    },
    disableAuth() {
      credentials = undefined;
    },
    reset() {
      endStall();
      refusals = [];
      latencyMs = 0;
      credentials = startupCredentials;
    },
    state: () => ({
      latencyMs,
      stalledUntil: stalled() ? stalledUntil : 0,
      refusals: refusals.map((r) => ({ remaining: r.remaining, code: codeToString(r.code), ...(r.method ? { method: r.method } : {}) })),
      authRequired: credentials !== undefined,
      credentials: credentials?.length ?? 0,
      openStreams: streams.count(),
    }),
    async admit(method, authorization, signal) {
      if (latencyMs > 0) await sleep(clock, latencyMs, signal);
      const refusal = takeRefusal(method);
      if (refusal) throw new ConnectError(refusal.message ?? `refused by the simulator (${codeToString(refusal.code)})`, refusal.code);
      return authenticate(authorization, credentials);
    },
    whileStalled(signal) {
      if (!stalled()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          stallWaiters.delete(release);
          reject(signal.reason);
        };
        const release = (): void => {
          stallWaiters.delete(release);
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
        if (signal.aborted) return onAbort();
        stallWaiters.add(release);
        signal.addEventListener("abort", onAbort, { once: true });
      });
    },
  };
}

/** Resolves after `ms` on the simulator clock; rejects when `signal` aborts. */
function sleep(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      cancel();
      reject(signal.reason);
    };
    const cancel = clock.schedule(ms, () => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A gRPC code from its name ("unavailable", "PERMISSION_DENIED") or number ("14"). */
export function parseCode(text: string): Code | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) {
    const n = Number(trimmed);
    return n >= 1 && n <= 16 ? (n as Code) : undefined;
  }
  return codeFromString(trimmed.toLowerCase());
}
