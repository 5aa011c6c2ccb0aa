import { parseArgs } from "node:util";
import type { LevelWithSilent } from "pino";
import { integer, list, oneOf } from "../config/parse.js";
import { LOG_LEVELS } from "../observability/logger.js";
import type { Credential } from "./access.js";
import type { BulkLoadOptions } from "./bulk.js";
import { DEFAULT_LIFECYCLE, type LifecycleConfig, type Range } from "./lifecycle.js";
import { STEERING_KEYS } from "./steering.js";

/**
 * Every flag of `jobservice simulate`. This table is the single source for
 * parsing and for `--help` (a test checks that help shows every flag).
 */
export interface SimulateFlag {
  readonly flag: string;
  /** Environment fallback; the flag wins. */
  readonly env?: string;
  readonly default: string;
  readonly description: string;
  /** May be given more than once. */
  readonly multiple?: boolean;
}

const range = (r: Range): string => (r[0] === r[1] ? String(r[0]) : `${r[0]}..${r[1]}`);
const d = DEFAULT_LIFECYCLE;

export const SIMULATE_FLAGS = [
  { flag: "host", env: "ARMADA_SIM_HOST", default: "127.0.0.1", description: "Address to listen on." },
  { flag: "port", env: "ARMADA_SIM_PORT", default: "50051", description: "TCP port for gRPC (cleartext HTTP/2) and the control surface; 0 picks a free port." },
  {
    flag: "seed",
    env: "ARMADA_SIM_SEED",
    default: "1",
    description: "Seed of the random generator: the same seed and submissions replay the same lifecycles.",
  },
  {
    flag: "queue",
    env: "ARMADA_SIM_QUEUES",
    default: "",
    multiple: true,
    description: "Queue to create at start; repeat the flag or separate names with commas.",
  },
  {
    flag: "queued-ms",
    default: range(d.queuedMs),
    description: "queued → leased, and back to leased after a lease return or retry: N or MIN..MAX milliseconds.",
  },
  { flag: "pending-ms", default: range(d.pendingMs), description: "leased → pending (or lease_returned)." },
  { flag: "start-ms", default: range(d.startMs), description: "pending → running." },
  { flag: "run-ms", default: range(d.runMs), description: "running → succeeded, failed or preempted." },
  { flag: "cancel-ms", default: range(d.cancelMs), description: "cancelling → cancelled." },
  { flag: "failure-probability", default: String(d.failureProbability), description: "Chance that a run fails (0..1)." },
  { flag: "preemption-probability", default: String(d.preemptionProbability), description: "Chance that a run is preempted (0..1)." },
  { flag: "lease-return-probability", default: String(d.leaseReturnProbability), description: "Chance that a lease is returned before the pod starts (0..1)." },
  {
    flag: "retry-probability",
    default: String(d.retryProbability),
    description: "Chance that a failed or preempted run is retryable while attempts remain (0..1).",
  },
  { flag: "max-attempts", default: String(d.maxAttempts), description: "Most leases per job." },
  { flag: "query-lag-ms", default: "0", description: "How far api.Jobs (Armada's Query API, backed by Lookout) lags the event stream, in milliseconds." },
  {
    flag: "basic",
    env: "ARMADA_SIM_BASIC",
    default: "",
    multiple: true,
    description: "USER:PASSWORD accepted as basic auth; any credential turns auth on (UNAUTHENTICATED without one).",
  },
  { flag: "bearer", env: "ARMADA_SIM_BEARER", default: "", multiple: true, description: "TOKEN accepted as `Bearer TOKEN`; turns auth on." },
  {
    flag: "allow",
    default: "",
    multiple: true,
    description: "PRINCIPAL=QUEUE[,QUEUE…]: limits a --basic user or --bearer token to these queues (PERMISSION_DENIED elsewhere).",
  },
  { flag: "bulk-job-sets", default: "0", description: "Bulk load: number of job sets to play at start (0: none)." },
  { flag: "bulk-jobs-per-set", default: "100", description: "Bulk load: jobs per job set." },
  { flag: "bulk-rate", default: "1000", description: "Bulk load: events per second over all job sets, or `max`." },
  { flag: "bulk-queue", default: "bulk", description: "Bulk load: queue of the job sets (created if missing); job sets are named bulk-0, bulk-1, …" },
  { flag: "log-level", env: "ARMADA_SIM_LOG_LEVEL", default: "info", description: "fatal, error, warn, info, debug, trace or silent." },
] as const satisfies readonly SimulateFlag[];

export interface SimulateConfig {
  readonly host: string;
  readonly port: number;
  readonly seed: number;
  readonly queues: readonly string[];
  readonly lifecycle: LifecycleConfig;
  readonly queryLagMs: number;
  readonly credentials?: readonly Credential[];
  readonly bulk?: BulkLoadOptions;
  readonly logLevel: LevelWithSilent;
}

export class UsageError extends Error {}

type Flag = (typeof SIMULATE_FLAGS)[number]["flag"];

/** `{ help: true }` for --help; otherwise the parsed configuration. Throws UsageError naming the bad flag. */
export function parseSimulateArgs(argv: readonly string[], env: NodeJS.ProcessEnv): { help: true } | { help: false; config: SimulateConfig } {
  let values: Record<string, string | string[] | boolean | undefined>;
  try {
    const options = Object.fromEntries(SIMULATE_FLAGS.map((f) => [f.flag, { type: "string" as const, multiple: "multiple" in f }]));
    values = parseArgs({ args: [...argv], options: { ...options, help: { type: "boolean", short: "h" } }, strict: true, allowPositionals: false }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return { help: true };

  const all = (flag: Flag): string[] => {
    const given = values[flag];
    if (Array.isArray(given)) return given;
    const spec = SIMULATE_FLAGS.find((f) => f.flag === flag);
    const fromEnv = spec && "env" in spec ? env[spec.env] : undefined;
    if (fromEnv) return flag === "queue" ? list(fromEnv) : [fromEnv];
    return [];
  };
  const one = (flag: Flag): string => {
    const given = values[flag];
    if (typeof given === "string") return given;
    const spec = SIMULATE_FLAGS.find((f) => f.flag === flag);
    const fromEnv = spec && "env" in spec ? env[spec.env] : undefined;
    return fromEnv || (spec?.default ?? "");
  };
  const read = <T>(flag: Flag, parse: (raw: string) => T): T => {
    const raw = one(flag);
    try {
      return parse(raw);
    } catch (error) {
      throw new UsageError(`--${flag}: ${(error as Error).message}`);
    }
  };

  const lifecycle: LifecycleConfig = {
    queuedMs: read("queued-ms", parseRange),
    pendingMs: read("pending-ms", parseRange),
    startMs: read("start-ms", parseRange),
    runMs: read("run-ms", parseRange),
    cancelMs: read("cancel-ms", parseRange),
    failureProbability: read("failure-probability", parseProbability),
    preemptionProbability: read("preemption-probability", parseProbability),
    leaseReturnProbability: read("lease-return-probability", parseProbability),
    retryProbability: read("retry-probability", parseProbability),
    maxAttempts: read("max-attempts", integer(1, 100)),
  };
  const bulkJobSets = read("bulk-job-sets", integer(0, 1_000_000));
  const bulk: BulkLoadOptions | undefined =
    bulkJobSets > 0
      ? {
          jobSets: bulkJobSets,
          jobsPerSet: read("bulk-jobs-per-set", integer(1, 1_000_000)),
          eventsPerSecond: read("bulk-rate", (raw) => (raw === "max" ? Number.POSITIVE_INFINITY : integer(1, 10_000_000)(raw))),
          queue: read("bulk-queue", nonBlank),
        }
      : undefined;
  const credentials = readCredentials(all("basic"), all("bearer"), all("allow"));
  return {
    help: false,
    config: {
      host: read("host", nonBlank),
      port: read("port", integer(0, 65535)),
      seed: read("seed", integer(0, 4_294_967_295)),
      queues: all("queue").flatMap(list),
      lifecycle,
      queryLagMs: read("query-lag-ms", integer(0, 86_400_000)),
      ...(credentials.length > 0 ? { credentials } : {}),
      ...(bulk ? { bulk } : {}),
      logLevel: read("log-level", oneOf(LOG_LEVELS)),
    },
  };
}

function readCredentials(basics: readonly string[], tokens: readonly string[], allows: readonly string[]): Credential[] {
  const limits = new Map<string, string[]>();
  for (const allow of allows) {
    const eq = allow.indexOf("=");
    const queues = eq < 0 ? [] : list(allow.slice(eq + 1));
    if (eq <= 0 || queues.length === 0) throw new UsageError(`--allow: expected PRINCIPAL=QUEUE[,QUEUE…], got "${allow}"`);
    limits.set(allow.slice(0, eq), queues);
  }
  const limit = (principal: string) => {
    const queues = limits.get(principal);
    limits.delete(principal);
    return queues ? { queues } : {};
  };
  const credentials: Credential[] = basics.map((basic) => {
    const colon = basic.indexOf(":");
    // Never echo the value: it holds a password.
    if (colon <= 0) throw new UsageError("--basic: expected USER:PASSWORD");
    const user = basic.slice(0, colon);
    return { kind: "basic", user, password: basic.slice(colon + 1), ...limit(user) };
  });
  for (const token of tokens) {
    if (token.trim() === "") throw new UsageError("--bearer: expected a token");
    credentials.push({ kind: "bearer", token, ...limit(token) });
  }
  const [unknown] = limits.keys();
  if (unknown !== undefined) throw new UsageError(`--allow: "${unknown}" is neither a --basic user nor a --bearer token`);
  return credentials;
}

function parseRange(raw: string): Range {
  const match = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(raw);
  const min = Number(match?.[1]);
  const max = match?.[2] === undefined ? min : Number(match[2]);
  if (!match || min > max) throw new Error(`expected N or MIN..MAX milliseconds (MIN ≤ MAX), got "${raw}"`);
  return [min, max];
}

function parseProbability(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === "" || !(value >= 0 && value <= 1)) throw new Error(`expected a probability from 0 to 1, got "${raw}"`);
  return value;
}

function nonBlank(raw: string): string {
  if (raw.trim() === "") throw new Error("expected a non-empty value");
  return raw;
}

export function simulateHelp(): string {
  const rows = SIMULATE_FLAGS.map((f) => {
    const env = "env" in f ? ` (env ${f.env})` : "";
    const def = f.default ? ` [default ${f.default}]` : "";
    const many = "multiple" in f ? " (repeatable)" : "";
    return `  --${f.flag}${env}${def}${many}\n      ${f.description}`;
  });
  const steering = Object.entries(STEERING_KEYS).map(([key, meaning]) => `  ${key.padEnd(26)} ${meaning}`);
  return `Usage: jobservice simulate [flags]

Runs a local stand-in for Armada's api.Event, api.Submit, api.QueueService and api.Jobs
gRPC services (cleartext HTTP/2, so clients need prior knowledge: plaintext gRPC does this),
with simulated job lifecycles and faults on demand. Runs until SIGINT or SIGTERM.

Flags:
${rows.join("\n")}
  --help, -h
      Show this text.

Steering a job from its submit item (annotations, or labels):
${steering.join("\n")}

Control surface on the same port (JSON; curl --http2-prior-knowledge):
  GET    /control                state of faults, queues and jobs
  GET    /control/calls          calls received (?method=GetJobSetEvents)
  GET    /control/streams        open event streams (?queue=&jobSetId=)
  GET    /control/jobs           submitted jobs and their expected outcomes
  POST   /control/queues         {"name": "q"}
  POST   /control/drop-streams   {"code": "unavailable"}   end every open stream
  POST   /control/disconnect     cut every other HTTP/2 connection
  POST   /control/stall          {"ms": 5000}   streams stay open but silent
  POST   /control/unstall
  POST   /control/refuse         {"count": 3, "code": "unavailable", "method": "GetJobSetEvents"}
  POST   /control/latency        {"ms": 200}
  PUT    /control/auth           {"credentials": [{"user": "u", "password": "p", "queues": ["q"]}, {"token": "t"}, {"kubernetesToken": "jwt", "ca": "pem"}]}
  DELETE /control/auth
  POST   /control/reset          clear every fault; auth goes back to the flags' setting
See docs/simulator.md for details.
`;
}
