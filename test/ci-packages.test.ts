import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TOOLS } from "../bench/lib/tools.js";

const ROOT = new URL("..", import.meta.url).pathname;

/** `.ci/apt-packages`: one package a line, `#` comments. */
const listed = readFileSync(join(ROOT, ".ci/apt-packages"), "utf8")
  .split("\n")
  .map((line) => line.replace(/#.*/, "").trim())
  .filter((line) => line !== "");

/**
 * The PyPI distribution that provides each third-party Python module the tree may import. The
 * Python tests and examples run in the locked environments of test/envs, never on Debian's python3.
 */
const PYTHON_MODULE_DISTRIBUTIONS: Readonly<Record<string, string>> = {
  grpc: "grpcio",
  google: "protobuf",
  requests: "requests",
  pytest: "pytest",
  airflow: "apache-airflow",
  armada: "armada-airflow",
  armada_client: "armada-client",
  pendulum: "pendulum",
  yaml: "pyyaml",
};

/** Every distribution pinned by some test environment's lock. */
function lockedDistributions(): Set<string> {
  const envs = join(ROOT, "test/envs");
  const names = readdirSync(envs, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .flatMap((entry) => {
      const lock = join(envs, entry.name, "requirements.txt");
      return existsSync(lock) ? [...readFileSync(lock, "utf8").matchAll(/^([A-Za-z0-9_.-]+)==/gm)].map(([, name = ""]) => name.toLowerCase()) : [];
    });
  return new Set(names);
}

/** Modules the tree itself provides (packages and single files). */
function localModules(files: readonly string[]): Set<string> {
  return new Set(
    files.map((file) => {
      const parts = file.split("/");
      const name = parts.at(-1) ?? "";
      return name === "__init__.py" ? (parts.at(-2) ?? "") : name.replace(/\.py$/, "");
    }),
  );
}

function pythonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === "node_modules" || entry.name.startsWith(".")) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return pythonFiles(path);
    return entry.name.endsWith(".py") ? [path] : [];
  });
}

function importedModules(source: string): string[] {
  return [...source.matchAll(/^\s*(?:import|from)\s+([A-Za-z_]\w*)/gm)].map(([, name = ""]) => name);
}

describe("the Debian packages CI installs and the Python test environments", () => {
  it("are exactly the ones CONTRIBUTING.md's apt-get line names", () => {
    const guide = readFileSync(join(ROOT, "CONTRIBUTING.md"), "utf8");
    const line = guide.split("\n").find((text) => text.startsWith("apt-get install "));
    expect(line, "CONTRIBUTING.md has an `apt-get install …` line").toBeDefined();
    expect(line?.slice("apt-get install ".length).trim().split(/\s+/).sort()).toEqual([...listed].sort());
  });

  it("include every tool the benchmarks drive", () => {
    for (const tool of TOOLS) expect(listed, tool.command).toContain(tool.aptPackage);
  });

  it("provide every Python module that the tree's scripts and the docs' examples import", () => {
    const locked = lockedDistributions();
    const files = pythonFiles(ROOT);
    const local = localModules(files);
    const sources = [
      ...files.map((file) => readFileSync(file, "utf8")),
      ...[
        "README.md",
        ...readdirSync(join(ROOT, "docs"))
          .filter((name) => name.endsWith(".md"))
          .map((name) => `docs/${name}`),
      ].flatMap((doc) => [...readFileSync(join(ROOT, doc), "utf8").matchAll(/```python\n([\s\S]*?)```/g)].map(([, code = ""]) => code)),
    ];
    const standard = new Set(execFileSync("python3", ["-c", "import sys; print('\\n'.join(sys.stdlib_module_names))"], { encoding: "utf8" }).split("\n"));
    const thirdParty = [...new Set(sources.flatMap(importedModules))].filter((name) => !standard.has(name) && name !== "__future__" && !local.has(name));
    expect(thirdParty.length).toBeGreaterThan(0);
    for (const module of thirdParty) {
      const distribution = PYTHON_MODULE_DISTRIBUTIONS[module];
      expect(distribution, `the PyPI distribution for Python module '${module}' (add it to this test's table and to a test/envs lock)`).toBeDefined();
      expect(locked, `module '${module}'`).toContain(distribution);
    }
  });
});
