// The chaos run's report: one line per scenario, and docs/reliability.md
// (rewritten by --write) with the method, every scenario's line and notes,
// and the repeated runs' section carried over.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ScenarioResult, Size } from "./env.js";
import { withRepeatedSection } from "./repeated.js";

const REPORT = fileURLToPath(new URL("../docs/reliability.md", import.meta.url));

/** What the report says of the run besides its results. */
export interface RunFacts {
  readonly size: Size;
  readonly startedAt: Date;
  /** Seconds the whole run took. */
  readonly elapsed: number;
  /** The one-minute load average at the start. */
  readonly load: number;
  /** The arguments after `npm run chaos --`. */
  readonly argv: readonly string[];
  readonly repeat: number;
}

/**
 * Rewrites docs/reliability.md: a single run replaces the report (keeping the
 * repeated runs' section); repeated runs replace only that section.
 */
export function writeReport(results: readonly ScenarioResult[], summaries: readonly string[], run: RunFacts): void {
  const { size, startedAt, elapsed, load } = run;
  const previous = existsSync(REPORT) ? readFileSync(REPORT, "utf8") : "";
  const command = `npm run chaos -- ${run.argv.join(" ")}`.trim();
  const section = `## Repeated runs\n\nFrom \`${command}\` on ${startedAt.toISOString()} (${elapsed.toFixed(0)} s, load average ${load.toFixed(2)} at the start), ${size.name} size:\n\n${summaries.map((s) => `- ${s}`).join("\n")}\n`;
  const report =
    run.repeat > 1
      ? withRepeatedSection(previous, previous, section)
      : withRepeatedSection(reliabilityReport(results, { size, startedAt, elapsed, load, command }), previous);
  writeFileSync(REPORT, report);
}

export function line(result: ScenarioResult): string {
  return `${result.name}: ${result.jobs} jobs, ${result.events} events, ${result.mismatches} mismatches, ${result.wrong} wrong answers, ${result.recoverySeconds.toFixed(1)} s recovery`;
}

export function reliabilityReport(
  results: readonly ScenarioResult[],
  run: { size: Size; startedAt: Date; elapsed: number; load: number; command: string },
): string {
  const { size } = run;
  return `# Reliability under faults

From one run of \`${run.command}\` on ${run.startedAt.toISOString()} (${run.elapsed.toFixed(0)} s, load average ${run.load.toFixed(2)} at the start),
on loopback, ${size.name} size: each scenario bulk-loads ${size.jobSets} job sets × ${size.jobsPerSet} jobs into the simulator
(every job's final state known in advance), runs the service as its own process(es) (\`chaos/service.ts\`: the
same composition as \`jobservice serve\`) with a lease of ${size.leaseTtlMs / 1000} s and a stream idle limit of ${size.idleTimeoutMs / 1000} s, and brings the fault on.

- **wrong answers**: counted by a poller that asks about the jobs round robin (4 calls at a time) from the start of the
  scenario until it has converged: a terminal state other than the true one, or \`JOB_ID_NOT_FOUND\` for a job whose
  first event was in Armada's log (in the live-load scenario: for ${(2 * size.idleTimeoutMs + 2_000) / 1000} s, two idle limits and 2 s, since a
  silently stalled stream is only noticed after the idle limit). \`CONNECTION_ERR\`, \`UNAVAILABLE\`, no answer, and a
  state not yet final are allowed while a fault lasts.
- **mismatches**: jobs whose answer is not their true final state in the last full pass over every job; passes repeat
  until one is clean (at most ${size.convergeMs / 1000} s).
- **recovery seconds**: from the end of the fault to the end of the first clean pass (it includes reading whatever
  the fault left unread, so a fault early in the ingest recovers longer).
- **a store that goes back in time** (the last three scenarios, and the repeated runs below): the store is made to
  hold an older, consistent state of the job sets after the service has read them all to their end, so that only
  the lease renewal's check can notice (the streams' idle limit is the default 120 s there). The older state is
  taken as soon as a job set has part of its history stored (or at half the ingest): a Redis restarted from a
  snapshot taken then (one replica of the service, frozen over the restart so that no call fails); a replica cut
  off then (it is told to log in to its master as a user that does not exist, and its link is closed), promoted
  with \`REPLICAOF NO ONE\` and the service's address moved to it before its master is killed (two replicas of
  the service); a Redis Cluster replica cut off the same way and promoted by the cluster after its master is
  killed (one replica of the service). A wrong answer within one lease period plus the time to re-read the job
  sets (no longer than the first read of the whole load took) is counted apart, as allowed; one after it counts
  as wrong. Without the renewal's check the first two never catch up (a mismatch after the 30 s of a quick run).

${results.map((r) => `${line(r)}\n${r.notes.map((n) => `  - ${n}`).join("\n")}`).join("\n\n")}

Fast variants of the same scenarios run in \`npm test\` (\`test/faults/chaos-store.test.ts\`, \`chaos-process.test.ts\` and \`chaos-rollback.test.ts\`, \`--quick\` size).
Malformed events from Armada are not among these faults: each is skipped with a count and a warning and the stream goes on
(\`test/subscriber/undecodable-events.test.ts\`).
`;
}
