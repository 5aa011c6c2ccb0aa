import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { ENV_TIMEOUT_MS, goModTool, pythonEnv, ROOT } from "../support/python-env.js";
import { FAST_LIFECYCLE } from "../support/simulator.js";

const run = promisify(execFile);
const DOC = readFileSync(join(ROOT, "docs/simulator.md"), "utf8");
/** The address the examples are written for; each run swaps in its own simulator's. */
const DOC_ADDRESS = "127.0.0.1:50051";

interface Block {
  readonly language: string;
  readonly body: string;
}

const blocks: Block[] = [...DOC.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map(([, language = "", body = ""]) => ({ language, body }));

/** The one block of `language` whose text contains `marker`. */
function block(language: string, marker: string): string {
  const found = blocks.filter((candidate) => candidate.language === language && candidate.body.includes(marker));
  if (found.length !== 1) throw new Error(`docs/simulator.md: expected one ${language} block with ${JSON.stringify(marker)}, found ${found.length}`);
  return found[0]!.body;
}

describe("docs/simulator.md's examples with Armada's own clients, as written", () => {
  let sim: Simulator;
  let home: string;
  beforeAll(async () => {
    sim = await startSimulator({ lifecycle: FAST_LIFECYCLE });
    home = mkdtempSync(join(tmpdir(), "simulator-docs-"));
  });
  afterAll(async () => {
    await sim?.close();
    if (home) rmSync(home, { recursive: true, force: true });
  });
  const address = (text: string): string => text.replaceAll(DOC_ADDRESS, `127.0.0.1:${sim.port}`);

  it(
    "the armada-client example prints the events it shows",
    async () => {
      const { python } = await pythonEnv("armada-client-0.5");
      const lines = block("python", "armada_client").trimEnd().split("\n");
      const shown = lines.filter((line) => line.startsWith("# ")).map((line) => line.slice(2));
      const code = lines.filter((line) => !line.startsWith("# ")).join("\n");
      const { stdout } = await run(python, ["-c", address(code)], { timeout: 60_000 });
      expect(stdout.trim().split("\n")).toEqual(shown);
    },
    ENV_TIMEOUT_MS,
  );

  it(
    "the armadactl config, job file and commands run the job to its end",
    async () => {
      const armadactl = await goModTool("armadactl");
      // Each YAML block names its file on its first line.
      for (const marker of ["# ~/.armadactl.yaml", "# jobs.yaml"]) {
        const text = block("yaml", marker);
        writeFileSync(join(home, marker.slice(2).replace("~/", "")), address(text));
      }
      const env = { ...process.env, HOME: home, PATH: `${dirname(armadactl)}:${process.env.PATH ?? ""}` };
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", block("sh", "armadactl create queue")], { cwd: home, env, timeout: 60_000 });
      expect(stdout).toContain("Created queue docs-demo");
      expect(stdout).toMatch(/JobSucceededEvent, job id: \S+/);
    },
    ENV_TIMEOUT_MS,
  );
});
