import type { BenchChild } from "./child.js";
import type { SimulatorReady } from "../processes/protocol.js";

/** Sizes of every load; `--quick` shrinks them, never changes what is measured. */
export interface BenchScale {
  /** Read-path jobs to query: a terminal one always; a running one too in the full run. */
  readonly readJobKinds: readonly ("terminal" | "running")[];
  /** Alternating rounds per comparison (the median is taken over them). */
  readonly rounds: number;
  /** Length of one fixed-duration load run, in whole seconds. */
  readonly loadSeconds: number;
  readonly warmUpSeconds: number;
  /** Offered loads of the open-loop latency runs, in requests per second (2,000 is the target's). */
  readonly offeredRates: readonly number[];
  /** Length of a naive-replay run: long enough for several whole replays of a 1,000-job set. */
  readonly naiveSeconds: number;
  readonly ingest: { readonly bigJobs: number; readonly smallSets: number; readonly smallJobs: number };
  readonly freshnessSamples: number;
  readonly scaleSubscriptions: readonly number[];
  readonly startupRounds: number;
}

export interface BenchContext {
  readonly scale: BenchScale;
  readonly simulator: BenchChild<SimulatorReady>;
  readonly redisUrl: string;
  log(message: string): void;
}

export const FULL_SCALE: BenchScale = {
  readJobKinds: ["terminal", "running"],
  rounds: 4,
  loadSeconds: 3,
  warmUpSeconds: 1,
  offeredRates: [500, 2_000],
  naiveSeconds: 5,
  ingest: { bigJobs: 5_000, smallSets: 250, smallJobs: 20 },
  freshnessSamples: 150,
  scaleSubscriptions: [1_000, 10_000],
  startupRounds: 5,
};

export const QUICK_SCALE: BenchScale = {
  readJobKinds: ["terminal"],
  rounds: 3,
  loadSeconds: 1,
  warmUpSeconds: 0,
  offeredRates: [2_000],
  naiveSeconds: 2,
  ingest: { bigJobs: 1_000, smallSets: 50, smallJobs: 20 },
  freshnessSamples: 45,
  scaleSubscriptions: [1_000],
  startupRounds: 3,
};
