// `npm run chaos [-- --quick] [-- --only=<scenario>,…] [-- --write]`: every
// fault scenario against the simulator's bulk load, whose every job's final
// state is known. Each scenario counts wrong answers while the fault lasts
// (a poller asking all the time) and mismatches once it is over, and prints
// one line `scenario: jobs, events, mismatches, wrong answers, recovery
// seconds`. Loopback only; every wait is bounded; exits by itself (1 if a
// count is not 0). The full run with --write rewrites docs/reliability.md.
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { FULL, QUICK } from "./env.js";
import { writeReport } from "./report.js";
import { runScenarios } from "./runner.js";

async function main(argv: readonly string[]): Promise<number> {
  const size = argv.includes("--quick") ? QUICK : FULL;
  const only = argv
    .find((arg) => arg.startsWith("--only="))
    ?.slice("--only=".length)
    .split(",");
  const repeat = Number(argv.find((arg) => arg.startsWith("--repeat="))?.slice("--repeat=".length) ?? 1);
  if (!Number.isSafeInteger(repeat) || repeat < 1) throw new Error("--repeat=N wants a whole number of runs, 1 or more");
  const started = performance.now();
  const startedAt = new Date();
  const load = loadavg()[0] ?? Number.NaN;
  const log = (message: string): void => {
    process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
  };
  log(`${size.name} run: ${size.jobSets} job sets × ${size.jobsPerSet} jobs per scenario`);
  const { results, summaries } = await runScenarios(size, { ...(only && { only }), repeat }, log);
  for (const text of summaries) process.stdout.write(`${text}\n`);
  const elapsed = (performance.now() - started) / 1000;
  const failed = results.filter((r) => r.mismatches > 0 || r.wrong > 0 || r.notes.some((n) => n.startsWith("FAILED")));
  if (argv.includes("--write")) {
    writeReport(results, summaries, { size, startedAt, elapsed, load, argv, repeat });
    log("wrote docs/reliability.md");
  }
  log(`${results.length} scenarios in ${elapsed.toFixed(0)} s; ${failed.length} with a count that is not 0`);
  return failed.length === 0 ? 0 : 1;
}

const invokedDirectly = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
