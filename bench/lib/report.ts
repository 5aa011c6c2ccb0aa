/** One line of the headline table: a subject measured against its baseline in the same run. */
export interface Row {
  readonly measure: string;
  readonly subject: string;
  readonly baseline: string;
  /** Median of per-round subject/baseline ratios; null when the measure has no baseline ratio. */
  readonly ratio: number | null;
  /** Medians of the subject and the baseline, for context only. */
  readonly absolute: string;
}

export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** null: not measured in this run (e.g. a size --quick leaves out). */
  readonly met: boolean | null;
}

export interface SuiteOutcome {
  readonly name: string;
  readonly data: unknown;
  readonly rows: readonly Row[];
  readonly targets: readonly TargetCheck[];
  readonly notes: readonly string[];
}

export interface BenchMeta {
  readonly date: string;
  readonly mode: "quick" | "full";
  readonly machine: { readonly cpu: string; readonly cores: number; readonly memoryGiB: number; readonly os: string };
  readonly versions: Readonly<Record<string, string>>;
  readonly elapsedS: number;
  /** 1-minute load averages at the start and the end: how busy the shared machine was. */
  readonly loadAverage: { readonly start: number; readonly end: number };
}

export function fixed(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function percent(ratio: number): string {
  return Number.isFinite(ratio) ? `${fixed(ratio * 100, 1)} %` : "n/a";
}

function ratioText(ratio: number | null): string {
  if (ratio === null) return "—";
  if (!Number.isFinite(ratio)) return "n/a";
  return ratio >= 10 ? `${fixed(ratio, 0)}×` : `${fixed(ratio, 2)}×`;
}

/** The markdown that docs/benchmarks.md embeds: machine, versions, headline table, targets. */
export function markdownReport(meta: BenchMeta, suites: readonly SuiteOutcome[]): string {
  const lines: string[] = [];
  lines.push(`Run of ${meta.date} (${meta.mode} mode, ${fixed(meta.elapsedS)} s).`);
  lines.push("");
  lines.push(`- Machine: ${meta.machine.cpu}, ${meta.machine.cores} cores, ${fixed(meta.machine.memoryGiB, 1)} GiB memory, ${meta.machine.os}`);
  lines.push(`- Load average (1 min) at start / end: ${fixed(meta.loadAverage.start, 2)} / ${fixed(meta.loadAverage.end, 2)}`);
  lines.push(
    `- Versions: ${Object.entries(meta.versions)
      .map(([name, version]) => `${name} ${version}`)
      .join("; ")}`,
  );
  lines.push("");
  lines.push("### Targets");
  lines.push("");
  lines.push("| Target | Measured | Status |");
  lines.push("| --- | --- | --- |");
  for (const check of suites.flatMap((s) => s.targets)) {
    lines.push(`| ${check.target} | ${check.measured} | ${check.met === null ? "not measured" : check.met ? "met" : "**not met**"} |`);
  }
  lines.push("");
  lines.push("### Measurements (ratio = median of per-round subject ÷ baseline)");
  lines.push("");
  lines.push("| Measure | Subject | Baseline | Ratio | Absolute (subject / baseline, medians) |");
  lines.push("| --- | --- | --- | --- | --- |");
  for (const row of suites.flatMap((s) => s.rows)) {
    lines.push(`| ${row.measure} | ${row.subject} | ${row.baseline} | ${ratioText(row.ratio)} | ${row.absolute} |`);
  }
  const notes = suites.flatMap((s) => s.notes);
  if (notes.length > 0) {
    lines.push("");
    lines.push("### Notes from this run");
    lines.push("");
    for (const note of notes) lines.push(`- ${note}`);
  }
  return `${lines.join("\n")}\n`;
}
