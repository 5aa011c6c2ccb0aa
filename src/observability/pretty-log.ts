/** How log lines are written: JSON for machines, one readable line per entry for people. */
export type LogFormat = "json" | "pretty";

export const LOG_FORMAT_CHOICES = ["auto", "json", "pretty"] as const;
export type LogFormatChoice = (typeof LOG_FORMAT_CHOICES)[number];

/** `auto` is readable on a terminal and JSON anywhere else (a file, a pipe, a log collector). */
export function resolveLogFormat(choice: LogFormatChoice, destination: { isTTY?: boolean }): LogFormat {
  if (choice === "auto") return destination.isTTY === true ? "pretty" : "json";
  return choice;
}

const LEVELS: Readonly<Record<number, { name: string; color: string }>> = {
  10: { name: "TRACE", color: "\x1b[90m" },
  20: { name: "DEBUG", color: "\x1b[36m" },
  30: { name: "INFO", color: "\x1b[32m" },
  40: { name: "WARN", color: "\x1b[33m" },
  50: { name: "ERROR", color: "\x1b[31m" },
  60: { name: "FATAL", color: "\x1b[35m" },
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";
/** Fields every line carries or that the line's head already shows. */
const SHOWN = new Set(["level", "time", "msg", "service", "pid", "hostname", "err"]);

/** One of pino's JSON lines as a readable line: time, level, message, then the other fields as key=value. */
export function prettyLine(json: string, colors: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`;
  }
  const level = LEVELS[Number(entry.level)] ?? { name: String(entry.level), color: "" };
  const time = typeof entry.time === "number" ? new Date(entry.time).toISOString() : "";
  const fields = Object.entries(entry)
    .filter(([key]) => !SHOWN.has(key))
    .map(([key, value]) => `${key}=${typeof value === "string" && !/[\s"=]/.test(value) && value !== "" ? value : JSON.stringify(value)}`);
  const paint = (code: string, text: string): string => (colors ? `${code}${text}${RESET}` : text);
  const head = `${paint(DIM, time)} ${paint(level.color, level.name.padEnd(5))} ${String(entry.msg ?? "")}`;
  const err = entry.err as { message?: unknown; stack?: unknown } | undefined;
  const errText = err ? `\n    ${String(err.stack || err.message || JSON.stringify(err)).replaceAll("\n", "\n    ")}` : "";
  return `${head}${fields.length > 0 ? ` ${paint(DIM, fields.join(" "))}` : ""}${errText}\n`;
}

/** A destination for pino that writes each line readably to `out`. */
export function prettyDestination(out: NodeJS.WritableStream & { isTTY?: boolean }): { write(line: string): boolean } {
  const colors = out.isTTY === true && !process.env.NO_COLOR;
  return { write: (line) => out.write(prettyLine(line, colors)) };
}
