import { spawn, type ChildProcess } from "node:child_process";

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

/** How to launch `jobservice`: from the checkout's sources, as `npm start` does, unless told otherwise. */
const FROM_SOURCES: readonly string[] = [process.execPath, "bin/jobservice.js"];

/** Runs `jobservice <args>`. */
export function runJobservice(args: string[], env: Record<string, string> = {}, launcher: readonly string[] = FROM_SOURCES): RunningProcess {
  const [command = process.execPath, ...prefix] = launcher;
  const child = spawn(command, [...prefix, ...args], {
    env: { ...process.env, JOBSERVICE_LOG_LEVEL: "info", ...env },
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
