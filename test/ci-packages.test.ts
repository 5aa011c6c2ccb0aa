import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TOOLS } from "../bench/lib/tools.js";

const ROOT = new URL("..", import.meta.url).pathname;

/** `.ci/apt-packages`: one package a line, `#` comments. */
const listed = readFileSync(join(ROOT, ".ci/apt-packages"), "utf8")
  .split("\n")
  .map((line) => line.replace(/#.*/, "").trim())
  .filter((line) => line !== "");

/** The Debian package that provides each third-party Python module the tree may import. */
const PYTHON_MODULE_PACKAGES: Readonly<Record<string, string>> = {
  grpc: "python3-grpcio",
  google: "python3-protobuf",
  requests: "python3-requests",
  pytest: "python3-pytest",
  yaml: "python3-yaml",
};

/**
 * Imported Python modules that no Debian package provides, and why that is fine. Apache Airflow
 * is the user's own installation (Debian has none); the tests run the operator on
 * clients/python/tests/airflow_stand_in instead.
 */
const NOT_FROM_DEBIAN: Readonly<Record<string, string>> = {
  airflow: "Apache Airflow, installed by the user",
};

/** Modules the tree itself provides (packages and single files), stand-ins for others' packages aside. */
function localModules(files: readonly string[]): Set<string> {
  return new Set(
    files.filter((file) => !file.includes("/airflow_stand_in/")).map((file) => {
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

describe("the Debian packages CI installs", () => {
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
    const files = pythonFiles(ROOT);
    const local = localModules(files);
    const sources = [
      ...files.map((file) => readFileSync(file, "utf8")),
      ...["README.md", ...readdirSync(join(ROOT, "docs")).filter((name) => name.endsWith(".md")).map((name) => `docs/${name}`)].flatMap((doc) =>
        [...readFileSync(join(ROOT, doc), "utf8").matchAll(/```python\n([\s\S]*?)```/g)].map(([, code = ""]) => code),
      ),
    ];
    const standard = new Set(
      execFileSync("/usr/bin/python3", ["-c", "import sys; print('\\n'.join(sys.stdlib_module_names))"], { encoding: "utf8" }).split("\n"),
    );
    const thirdParty = [...new Set(sources.flatMap(importedModules))].filter((name) => !standard.has(name) && name !== "__future__" && !local.has(name) && !(name in NOT_FROM_DEBIAN));
    expect(thirdParty.length).toBeGreaterThan(0);
    for (const module of thirdParty) {
      const pkg = PYTHON_MODULE_PACKAGES[module];
      expect(pkg, `the Debian package for Python module '${module}' (add it to this test's table and to .ci/apt-packages)`).toBeDefined();
      expect(listed, `module '${module}'`).toContain(pkg);
    }
  });
});
