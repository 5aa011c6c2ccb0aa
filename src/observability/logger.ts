import { pino, type Logger, type LevelWithSilent } from "pino";
import { prettyDestination, resolveLogFormat, type LogFormatChoice } from "./pretty-log.js";

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Structured logs on stdout: JSON, or readable lines on a terminal (see
 * pretty-log.ts). Credentials never reach a log line: callers
 * log settings through `redactUrl` and never log headers, and these paths are
 * censored as a second line of defence.
 */
export function createLogger(level: LevelWithSilent, destination?: NodeJS.WritableStream, format: LogFormatChoice = "json"): Logger {
  const out: NodeJS.WritableStream & { isTTY?: boolean } = destination ?? process.stdout;
  return pino(
    {
      level,
      base: { service: "armada-jobservice" },
      redact: {
        paths: ["password", "token", "secret", "authorization", "*.password", "*.token", "*.secret", "*.authorization"],
        censor: "[redacted]",
      },
    },
    resolveLogFormat(format, out) === "pretty" ? prettyDestination(out) : out,
  );
}
