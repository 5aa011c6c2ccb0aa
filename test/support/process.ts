import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { resolve as resolvePath } from "node:path";

export interface RunningProcess {
  readonly child: ChildProcess;
  /** Log lines so far (JSON objects from pino). */
  readonly logs: Array<Record<string, unknown>>;
  /** Resolves with the first log line that matches, or rejects after `timeoutMs`. */
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the exit code once the process has ended. */
  readonly exited: Promise<number | null>;
  readonly stderr: () => string;
}

/** `jobservice` from the checkout's sources on Node, as `npm start` runs it. */
export const FROM_SOURCES: readonly string[] = [process.execPath, "bin/jobservice.js"];

/**
 * The `jobservice` the process tests launch: the built single binary when
 * JOBSERVICE_TEST_BINARY names it (`npm run test:binary`), the sources otherwise.
 */
export const UNDER_TEST: readonly string[] = launcherFromEnv(process.env.JOBSERVICE_TEST_BINARY);

function launcherFromEnv(binary: string | undefined): readonly string[] {
  if (binary === undefined || binary === "") return FROM_SOURCES;
  const path = resolvePath(binary);
  try {
    accessSync(path, constants.X_OK);
  } catch {
    throw new Error(`JOBSERVICE_TEST_BINARY=${binary}: no executable there; build it with \`npm run build:binary\``);
  }
  return [path];
}

/** Runs `jobservice <args>`. */
export function runJobservice(
  args: string[],
  env: Record<string, string> = {},
  launcher: readonly string[] = UNDER_TEST,
  options: { cwd?: string; inheritEnv?: boolean } = {},
): RunningProcess {
  const [command = process.execPath, ...prefix] = launcher;
  const child = spawn(command, [...prefix, ...args], {
    cwd: options.cwd,
    env: { ...(options.inheritEnv === false ? {} : process.env), JOBSERVICE_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  let stderr = "";
  let buffered = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line });
      }
    }
    listeners.forEach((notify) => notify());
  });
  child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    logs,
    exited,
    stderr: () => stderr,
    waitForLog(match, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = logs.find(match);
          if (!found) return;
          cleanup();
          resolve(found);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        void exited.then(() => {
          if (listeners.has(check)) {
            cleanup();
            reject(new Error(`process exited; stderr: ${stderr}`));
          }
        });
        check();
      });
    },
  };
}
