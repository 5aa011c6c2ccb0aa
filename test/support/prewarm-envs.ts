import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { goModTool, pythonEnv, ROOT } from "./python-env.js";

/**
 * vitest's global set-up for `npm test`: starts making every test environment (the Python ones and
 * armadactl, which takes minutes to build on a new machine) while the first test files run, instead
 * of when the file that needs one gets its turn. Nothing is awaited here: each test still asks for
 * its environment and waits on the same file lock, and a failure is reported by that test.
 * A run of chosen files (`npx vitest run test/x.test.ts`) makes only what its tests ask for.
 */
export function setup(): void {
  const [, , ...args] = process.argv;
  if (args.some((arg) => !arg.startsWith("-") && arg !== "run")) return;
  const specs = join(ROOT, "test/envs");
  for (const name of readdirSync(specs)) {
    if (!statSync(join(specs, name)).isDirectory()) continue;
    const making = name === "armadactl" ? goModTool(name) : pythonEnv(name);
    making.catch(() => undefined);
  }
}
