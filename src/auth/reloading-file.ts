import { readFileSync, unwatchFile, watchFile, type Stats } from "node:fs";
import type { Logger } from "../observability/logger.js";
import { FileProblem } from "./permissions.js";
import type { Versioned } from "./versioned.js";

/** A parsed file that follows changes on disk. */
export interface ReloadingFile<T> extends Versioned<T> {
  close(): void;
}

/** Reads and parses a file; the error names the file and the line. */
export function loadFile<T>(path: string, parse: (text: string) => T): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? "unreadable"})`);
  }
  try {
    return parse(text);
  } catch (error) {
    if (error instanceof FileProblem) throw new Error(`${path} ${error.message}`);
    throw error;
  }
}

/**
 * Loads the file now (throwing on a bad one: start-up must stop) and polls it
 * for changes: a good new version replaces the old, a bad one is logged and
 * the last good version stays in force. Polling, not inotify, because
 * Kubernetes updates mounted ConfigMaps by swapping a symlink.
 */
export function reloadingFile<T>(path: string, parse: (text: string) => T, deps: { logger: Logger; intervalMs: number; what: string }): ReloadingFile<T> {
  let value = loadFile(path, parse);
  let version = 1;
  const onChange = (now: Stats, before: Stats): void => {
    if (now.mtimeMs === before.mtimeMs && now.size === before.size && now.ino === before.ino) return;
    try {
      value = loadFile(path, parse);
      version++;
      deps.logger.info({ file: path }, `${deps.what} reloaded`);
    } catch (error) {
      deps.logger.error({ file: path, problem: (error as Error).message }, `${deps.what} not reloaded; the last good version stays in force`);
    }
  };
  watchFile(path, { interval: deps.intervalMs, persistent: false }, onChange);
  return {
    current: () => value,
    version: () => version,
    close: () => unwatchFile(path, onChange),
  };
}
