import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect } from "vitest";
import { stringify } from "yaml";

const run = promisify(execFile);

export interface Result {
  readonly code: number;
  readonly out: string;
}

/** A job file as armadactl's `submit` reads it: one pod-spec job per steering block. */
export function jobFile(queue: string, jobSetId: string, steering: ReadonlyArray<Record<string, string>>): string {
  const resources = { limits: { cpu: "100m", memory: "64Mi" }, requests: { cpu: "100m", memory: "64Mi" } };
  const jobs = steering.map((annotations) => ({
    priority: 0,
    namespace: "default",
    annotations,
    podSpec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox:1.36", args: ["sh", "-c", "echo hello"], resources }] },
  }));
  return stringify({ queue, jobSetId, jobs });
}

/** A temporary HOME with ~/.armadactl.yaml, and armadactl run in it as a user would run it. */
export function armadactlUser(binary: string, config: object) {
  const home = mkdtempSync(join(tmpdir(), "armadactl-home-"));
  const configFile = join(home, ".armadactl.yaml");
  writeFileSync(configFile, stringify(config));
  const armadactl = async (...args: string[]): Promise<Result> => {
    try {
      const { stdout, stderr } = await run(binary, args, { cwd: home, env: { ...process.env, HOME: home }, timeout: 60_000 });
      return { code: 0, out: stdout + stderr };
    } catch (error) {
      const { code, stdout = "", stderr = "" } = error as { code?: number; stdout?: string; stderr?: string };
      return { code: code ?? -1, out: stdout + stderr };
    }
  };
  const submit = async (name: string, text: string, ...flags: string[]): Promise<string[]> => {
    writeFileSync(join(home, name), text);
    const result = await armadactl(...flags, "submit", name);
    expect(result, result.out).toMatchObject({ code: 0 });
    return [...result.out.matchAll(/Submitted job with id (\S+)/g)].map((match) => match[1]!);
  };
  return { home, configFile, armadactl, submit, cleanUp: () => rmSync(home, { recursive: true, force: true }) };
}

/** The last status line `armadactl watch` printed: its counts of jobs by state. */
export function finalCounts(watchOutput: string): Record<string, number> {
  const lines = watchOutput
    .trim()
    .split("\n")
    .filter((line) => line.includes("Queued:"));
  const counts = (lines.at(-1) ?? "").split("|")[1] ?? "";
  return Object.fromEntries([...counts.matchAll(/(\w+):\s+(\d+)/g)].map((match) => [match[1]!, Number(match[2])]));
}
