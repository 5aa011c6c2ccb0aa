import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { unitTestFiles } from "./support/unit-tests.js";

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "unit-tests-"));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe("npm run test:unit's selection", () => {
  it("keeps the tests of pure modules and leaves out those that start servers or processes, directly or through a helper", () => {
    const root = tree({
      "test/a/pure.test.ts": 'import { x } from "../../src/answers/details.js";\nimport type { S } from "../../src/server/server.js";\n',
      "test/a/spawns.test.ts": 'import { execFile } from "node:child_process";\n',
      "test/a/simulator.test.ts": 'import { startSimulator } from "../../src/simulator/index.js";\n',
      "test/a/via-helper.test.ts": 'import { h } from "./harness.js";\n',
      "test/a/harness.ts": 'import { createServer } from "node:http2";\n',
      "test/b/pure-helper.test.ts": 'import { p } from "./builders.js";\n',
      "test/b/builders.ts": 'import { q } from "./cycle.js";\n',
      "test/b/cycle.ts": 'import { p } from "./builders.js";\n',
      "test/b/chaos.test.ts": 'import { runScenario } from "../../chaos/run.js";\n',
    });
    expect(unitTestFiles(root).sort()).toEqual(["test/a/pure.test.ts", "test/b/pure-helper.test.ts"]);
  });

  it("holds in this tree: the config tests are in, the process tests are out", () => {
    const files = unitTestFiles(new URL("..", import.meta.url).pathname);
    expect(files).toContain("test/config/load.test.ts");
    expect(files).not.toContain("test/cli/serve.test.ts");
    expect(files).not.toContain("test/docs-examples.test.ts");
  });
});
