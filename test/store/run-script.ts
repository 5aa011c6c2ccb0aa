import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TSX = fileURLToPath(new URL("../../node_modules/.bin/tsx", import.meta.url));

export interface ScriptOutcome {
  /** The exit code, or "still running" if the script had not ended in time (it is then killed). */
  readonly exit: number | null | "still running";
  readonly stdout: string;
  readonly stderr: string;
}

/** The URL to import a module of this repository from a script run elsewhere. */
export function moduleUrl(pathFromRepo: string): string {
  return new URL(`../../${pathFromRepo}`, import.meta.url).href;
}

/**
 * Runs a TypeScript ES module (top-level await allowed) in a fresh Node
 * process, for what only a process of its own can show.
 */
export function runScript(source: string, options: { env?: Record<string, string>; timeoutMs: number }): Promise<ScriptOutcome> {
  const dir = mkdtempSync(join(tmpdir(), "jobservice-script-"));
  const file = join(dir, "script.mts");
  writeFileSync(file, source);
  const child = spawn(TSX, [file], { env: { ...process.env, ...options.env }, stdio: ["ignore", "pipe", "pipe"] });
  child.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      resolve({ exit: "still running", stdout, stderr });
    }, options.timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ exit: code, stdout, stderr });
    });
  });
}
