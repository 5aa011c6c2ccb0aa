import { Code, ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";

/** One call the simulator received, for tests that assert how a client behaved. */
export interface ObservedCall {
  /** Simulator clock, milliseconds since the epoch. */
  readonly at: number;
  /** Full method name, e.g. "api.Event/GetJobSetEvents". */
  readonly method: string;
  /** The raw `authorization` metadata; "" when absent. */
  readonly authorization: string;
  readonly queue: string;
  readonly jobSetId: string;
  readonly fromMessageId?: string;
  readonly watch?: boolean;
  readonly errorIfMissing?: boolean;
  /** "open" while the call runs, then "ok" or the error code's name, e.g. "unavailable". */
  readonly result: string;
}

export type CallInit = Omit<ObservedCall, "result" | "at">;

export interface Observations {
  /** Records a call; returns the function that records how it ended. */
  start(call: CallInit): (error?: unknown) => void;
  calls(filter?: { readonly method?: string }): ObservedCall[];
  clear(): void;
}

/** Keeps the newest `limit` calls, so a long soak run cannot grow memory without bound. */
export function createObservations(now: () => number, limit = 10_000): Observations {
  let calls: ObservedCall[] = [];
  return {
    start(init) {
      const call: ObservedCall = { ...init, at: now(), result: "open" };
      calls.push(call);
      if (calls.length > limit) calls = calls.slice(-limit);
      let ended = false;
      return (error) => {
        if (ended) return;
        ended = true;
        const result = error === undefined ? "ok" : codeToString(ConnectError.from(error, Code.Unknown).code);
        const index = calls.indexOf(call);
        if (index >= 0) calls[index] = { ...call, result };
      };
    },
    calls: (filter) => calls.filter((call) => filter?.method === undefined || call.method === filter.method || call.method.endsWith(`/${filter.method}`)),
    clear() {
      calls = [];
    },
  };
}
