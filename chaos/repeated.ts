// Repeated runs of the same scenarios (`npm run chaos -- --repeat=N`): one
// line per scenario with the totals over its runs, and the section of
// docs/reliability.md that keeps them, which a full run's report carries over.

/** What a summary reads of one run (the runner's RunResult has all of it). */
interface RunResult {
  readonly name: string;
  readonly jobs: number;
  readonly mismatches: number;
  readonly wrong: number;
  readonly excused: number;
  readonly recoverySeconds: number;
  readonly notes: readonly string[];
  readonly poller: { readonly answers: number };
}

const BEGIN = "<!-- repeated runs: written by npm run chaos -- --repeat=N --write -->";
const END = "<!-- end of repeated runs -->";

export function summary(runs: readonly RunResult[]): string {
  const first = runs[0]!;
  const sum = (pick: (r: RunResult) => number): number => runs.reduce((total, r) => total + pick(r), 0);
  const worstRecovery = Math.max(...runs.map((r) => r.recoverySeconds));
  const windows = runs.flatMap((r) =>
    r.notes.filter((n) => n.includes("allowed window")).map((n) => Number(/window of ([\d.]+) s/.exec(n)?.[1] ?? Number.NaN)),
  );
  const longest = windows.length > 0 ? `; longest allowed window ${Math.max(...windows).toFixed(1)} s` : "";
  const failed = runs.filter((r) => r.notes.some((n) => n.startsWith("FAILED"))).length;
  const counted = (what: string): number =>
    sum((r) => r.notes.reduce((total, n) => total + Number(new RegExp(`(\\d+) job sets ${what}`).exec(n)?.[1] ?? 0), 0));
  const noticed = `; the service counted ${counted("rolled back")} job sets rolled back and ${counted("lost")} lost`;
  return (
    `${first.name}: ${runs.length} runs of ${first.jobs} jobs; ${sum((r) => r.mismatches)} mismatches, ${sum((r) => r.wrong)} wrong answers beyond the allowed window, ` +
    `${sum((r) => r.excused)} within it${longest}; ${sum((r) => r.poller.answers)} answers polled; worst recovery ${worstRecovery.toFixed(1)} s${noticed}; ${failed} runs with a FAILED note`
  );
}

/** `report` with its repeated-runs section replaced by `section` (or the one `previous` had, when `section` is undefined). */
export function withRepeatedSection(report: string, previous: string, section?: string): string {
  const kept = section ?? between(previous);
  const without = between(report) === undefined ? report : report.slice(0, report.indexOf(BEGIN)) + report.slice(report.indexOf(END) + END.length);
  return kept === undefined ? without : `${without.trimEnd()}\n\n${BEGIN}\n${kept.trim()}\n${END}\n`;
}

function between(text: string): string | undefined {
  const from = text.indexOf(BEGIN);
  const to = text.indexOf(END);
  return from >= 0 && to > from ? text.slice(from + BEGIN.length, to) : undefined;
}
