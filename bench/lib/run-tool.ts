import { spawn } from "node:child_process";

export interface ToolOutput {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end, killing it if it outlives `timeoutMs` (every load has a fixed length). */
export function runTool(command: string, args: readonly string[], timeoutMs: number): Promise<ToolOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal) reject(new Error(`${command} was killed (${signal}) after ${timeoutMs} ms: ${stderr.trim()}`));
      else resolve({ code, stdout, stderr });
    });
  });
}
