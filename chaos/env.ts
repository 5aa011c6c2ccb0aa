// What a chaos scenario is and sees: the run's size, the running
// environment a fault acts on, and what one run of a scenario yields.
import type { ChildProcess } from "node:child_process";
import type { Cluster } from "ioredis";
import type { BulkLoad, Simulator } from "../src/simulator/index.js";
import type { UpstashGateway } from "../test/support/upstash-gateway.js";
import type { PollerReport } from "./judge.js";
import type { RollbackEnv } from "./rollback.js";
import type { ChaosServiceConfig } from "./service.js";

export interface Size {
  readonly name: "full" | "quick";
  readonly jobSets: number;
  readonly jobsPerSet: number;
  /** The Armada scenario's live load. */
  readonly pacedEventsPerSecond: number;
  readonly dropPhaseMs: number;
  readonly stallMs: number;
  readonly redisDownMs: number;
  readonly leaseTtlMs: number;
  readonly idleTimeoutMs: number;
  readonly convergeMs: number;
}

export const FULL: Size = {
  name: "full",
  jobSets: 20,
  jobsPerSet: 850,
  pacedEventsPerSecond: 1_000,
  dropPhaseMs: 60_000,
  stallMs: 60_000,
  redisDownMs: 10_000,
  leaseTtlMs: 3_000,
  idleTimeoutMs: 5_000,
  convergeMs: 180_000,
};

export const QUICK: Size = {
  name: "quick",
  jobSets: 4,
  jobsPerSet: 100,
  pacedEventsPerSecond: 500,
  dropPhaseMs: 3_000,
  stallMs: 3_000,
  redisDownMs: 2_000,
  leaseTtlMs: 1_500,
  idleTimeoutMs: 1_000,
  convergeMs: 30_000,
};

export const QUEUE = "chaos";

/** A service replica the run started, as its own process. */
export interface ServiceChild {
  readonly url: string;
  readonly config: ChaosServiceConfig;
  child: ChildProcess;
  stopped: boolean;
  /** Everything it logged (warn and above). */
  log: string;
}

export interface Env extends RollbackEnv {
  readonly size: Size;
  /** A client of the cluster's nodes, for looking at what the store holds (cluster scenarios). */
  readonly clusterReader?: Cluster;
  readonly sim: Simulator;
  readonly load: BulkLoad;
  readonly gateway?: UpstashGateway;
  readonly services: ServiceChild[];
}

export interface Scenario {
  readonly name: string;
  readonly store: "redis" | "upstash" | "redis-cluster";
  readonly replicas: 1 | 2;
  /** Start a replica of the Redis, and give the service the master's address through a forwarder that can move. */
  readonly withReplica?: boolean;
  /** Subscriber settings of this scenario's services, over the size's. */
  readonly settings?: { readonly idleTimeoutMs: number };
  readonly paced?: boolean;
  readonly redisArgs?: (size: Size) => readonly string[];
  /** Brings the fault on and takes it away; resolves with the time it ended. */
  fault(env: Env): Promise<number>;
}

export interface ScenarioResult {
  readonly name: string;
  readonly jobs: number;
  readonly events: number;
  readonly mismatches: number;
  readonly wrong: number;
  /** Wrong answers inside the allowed windows (not in `wrong`). */
  readonly excused: number;
  readonly recoverySeconds: number;
  readonly notes: readonly string[];
  readonly poller: PollerReport;
}
