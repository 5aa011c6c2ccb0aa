import type { HandlerContext } from "@connectrpc/connect";
import type { Caller } from "./access.js";
import type { Armada } from "./armada.js";
import type { CallGate } from "./faults.js";
import type { Observations } from "./observations.js";
import type { StreamRegistry } from "./streams.js";

export interface ServiceDeps {
  readonly armada: Armada;
  readonly gate: CallGate;
  readonly streams: StreamRegistry;
  readonly observations: Observations;
}

export interface CallTarget {
  readonly queue: string;
  readonly jobSetId: string;
}

export const NO_TARGET: CallTarget = { queue: "", jobSetId: "" };

/** Records a unary call, applies latency, refusals and authentication, then runs `body`. */
export async function runUnary<T>(
  deps: Pick<ServiceDeps, "gate" | "observations">,
  method: string,
  context: HandlerContext,
  target: CallTarget,
  body: (caller: Caller) => T,
): Promise<T> {
  const authorization = context.requestHeader.get("authorization");
  const end = deps.observations.start({ method, authorization: authorization ?? "", ...target });
  try {
    const caller = await deps.gate.admit(method, authorization, context.signal);
    const result = body(caller);
    end();
    return result;
  } catch (error) {
    end(error);
    throw error;
  }
}
