import { Cause } from "../gen/api/event_pb.js";

/**
 * How a job asks the simulator for its own fate, through annotations (or
 * labels) on its submit item. A job carrying any of these keys is steered:
 * no random lease returns, retries or outcomes are drawn for it.
 */
export interface JobSteering {
  readonly outcome?: SteeredOutcome;
  readonly exitCode?: number;
  /** Time from running to the outcome. */
  readonly durationMs?: number;
  readonly reason?: string;
  readonly cause?: Cause;
  /** Lease returns before the first run. */
  readonly leaseReturns?: number;
  /** Retryable failures before the final outcome. */
  readonly retries?: number;
}

export type SteeredOutcome = "succeeded" | "failed" | "preempted" | "cancelled";

export const STEERING_PREFIX = "armada-sim/";

/** Every key the simulator reads, with what it does; `--help` and the docs list these. */
export const STEERING_KEYS: Readonly<Record<string, string>> = {
  "armada-sim/outcome": "succeeded | failed | preempted | cancelled",
  "armada-sim/exit-code": "container exit code (0-255); non-zero implies outcome failed",
  "armada-sim/duration-ms": "milliseconds from running to the outcome",
  "armada-sim/reason": "failure or cancellation reason text",
  "armada-sim/cause": "Error | Evicted | OOM | DeadlineExceeded | Rejected (Rejected fails the job before it is leased)",
  "armada-sim/lease-returns": "lease returns before the job runs (0-10)",
  "armada-sim/retries": "retryable failures before the final outcome (0-10)",
};

const OUTCOMES: readonly SteeredOutcome[] = ["succeeded", "failed", "preempted", "cancelled"];
const CAUSES: Readonly<Record<string, Cause>> = {
  Error: Cause.Error,
  Evicted: Cause.Evicted,
  OOM: Cause.OOM,
  DeadlineExceeded: Cause.DeadlineExceeded,
  Rejected: Cause.Rejected,
};

export type SteeringResult = { readonly ok: true; readonly steering?: JobSteering } | { readonly ok: false; readonly error: string };

/** Reads the steering keys; annotations win over labels. Unknown `armada-sim/` keys are errors, to catch typos. */
export function readSteering(labels: Readonly<Record<string, string>>, annotations: Readonly<Record<string, string>>): SteeringResult {
  const merged: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...labels, ...annotations })) {
    if (key.startsWith(STEERING_PREFIX)) merged[key] = value;
  }
  if (Object.keys(merged).length === 0) return { ok: true };
  const steering: { -readonly [K in keyof JobSteering]: JobSteering[K] } = {};
  for (const [key, value] of Object.entries(merged)) {
    const error = applyKey(steering, key, value.trim());
    if (error) return { ok: false, error: `${key}: ${error}` };
  }
  if (steering.exitCode === 0 && steering.outcome === "failed") return { ok: false, error: "armada-sim/exit-code: 0 contradicts outcome failed" };
  if (steering.exitCode !== undefined && steering.exitCode !== 0 && steering.outcome && steering.outcome !== "failed") {
    return { ok: false, error: `armada-sim/exit-code: a non-zero exit code contradicts outcome ${steering.outcome}` };
  }
  if (steering.cause !== undefined && steering.outcome && steering.outcome !== "failed") {
    return { ok: false, error: `armada-sim/cause: a failure cause contradicts outcome ${steering.outcome}` };
  }
  return { ok: true, steering };
}

function applyKey(steering: { -readonly [K in keyof JobSteering]: JobSteering[K] }, key: string, value: string): string | undefined {
  switch (key) {
    case "armada-sim/outcome":
      if (!OUTCOMES.includes(value as SteeredOutcome)) return `expected one of ${OUTCOMES.join(", ")}, got ${JSON.stringify(value)}`;
      steering.outcome = value as SteeredOutcome;
      return undefined;
    case "armada-sim/exit-code":
      return setInteger(value, 0, 255, (n) => (steering.exitCode = n));
    case "armada-sim/duration-ms":
      return setInteger(value, 0, 86_400_000, (n) => (steering.durationMs = n));
    case "armada-sim/reason":
      steering.reason = value;
      return undefined;
    case "armada-sim/cause": {
      const cause = CAUSES[value];
      if (cause === undefined) return `expected one of ${Object.keys(CAUSES).join(", ")}, got ${JSON.stringify(value)}`;
      steering.cause = cause;
      return undefined;
    }
    case "armada-sim/lease-returns":
      return setInteger(value, 0, 10, (n) => (steering.leaseReturns = n));
    case "armada-sim/retries":
      return setInteger(value, 0, 10, (n) => (steering.retries = n));
    default:
      return `unknown key; known keys: ${Object.keys(STEERING_KEYS).join(", ")}`;
  }
}

function setInteger(value: string, min: number, max: number, set: (n: number) => void): string | undefined {
  if (!/^\d+$/.test(value)) return `expected an integer, got ${JSON.stringify(value)}`;
  const n = Number(value);
  if (n < min || n > max) return `expected ${min}..${max}, got ${n}`;
  set(n);
  return undefined;
}
