import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJobservice, type RunningProcess } from "./support/process.js";

const run = promisify(execFile);
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");

interface Example {
  readonly language: string;
  readonly code: string;
  /** The lines the README shows as output (`# …` after the commands), if any. */
  readonly expected: string[];
}

/** Every code block that talks to the service on its default port. */
function examplesAgainstTheService(): Example[] {
  return [...readme.matchAll(/```(sh|python)\n([\s\S]*?)```/g)]
    .map(([, language = "", body = ""]) => {
      const lines = body.trimEnd().split("\n");
      const expected = lines.filter((line) => line.startsWith("# ")).map((line) => line.slice(2));
      const code = lines.filter((line) => !line.startsWith("# ")).join("\n");
      return { language, code, expected };
    })
    .filter((example) => example.code.includes("127.0.0.1:60003"));
}

let armada: RunningProcess;
let service: RunningProcess;

// The quickstart exactly: the simulator and the service on their default ports.
beforeAll(async () => {
  armada = runJobservice(["simulate", "--queue", "q"]);
  await armada.waitForLog((line) => line.msg === "Armada simulator listening");
  service = runJobservice(["serve"]);
  await service.waitForLog((line) => line.msg === "listening");
}, 30_000);
afterAll(() => {
  for (const { child } of [service, armada]) child.kill("SIGTERM");
});

describe("the README's examples", () => {
  const examples = examplesAgainstTheService();

  it("include the quickstart's curl, buf curl, requests and grpcio examples", () => {
    expect(examples.length).toBeGreaterThanOrEqual(4);
  });

  it.each(examples.map((example, index) => [index, example] as const))("example %i runs as written", async (_index, example) => {
    const { stdout } =
      example.language === "python"
        ? await run("/usr/bin/python3", ["-c", example.code])
        : // Debian's python3, which has python3-grpcio, ahead of any other on this machine.
          await run("bash", ["-euo", "pipefail", "-c", example.code], { env: { ...process.env, PATH: `/usr/bin:${process.env.PATH ?? ""}` } });
    if (example.expected.length > 0) expect(stdout.trim().split("\n").map((line) => line.trimEnd())).toEqual(example.expected);
  }, 30_000);
});
