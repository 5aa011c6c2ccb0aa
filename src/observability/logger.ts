import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Structured JSON logs on stdout. Credentials never reach a log line: callers
 * log settings through `redactUrl` and never log headers, and these paths are
 * censored as a second line of defence.
 */
export function createLogger(level: LevelWithSilent, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: "armada-jobservice" },
      redact: {
        paths: ["password", "token", "secret", "authorization", "*.password", "*.token", "*.secret", "*.authorization"],
        censor: "[redacted]",
      },
    },
    destination ?? process.stdout,
  );
}
