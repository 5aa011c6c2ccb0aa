import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { PACKAGE, passedIn, pytest, usePackageIn } from "./python-package.js";

const run = promisify(execFile);
const ROOT = new URL("../..", import.meta.url).pathname;
const prepared = usePackageIn("client");

describe("the Python package clients/python, without Airflow (test/envs/client)", () => {
  it("installs from its wheel with its descriptor set", async () => {
    const { env, site, work } = prepared();
    const { stdout } = await run(env.python, ["-c", "import armada_jobservice.protos as p, armada_jobservice as a; print(a.__file__); print(p.JobServiceRequest.DESCRIPTOR.full_name)"], {
      env: { ...process.env, PYTHONPATH: site },
      cwd: work,
    });
    expect(stdout.split("\n").slice(0, 2)).toEqual([join(site, "armada_jobservice/__init__.py"), "jobservice.JobServiceRequest"]);
  });

  it("ships the descriptor set that `buf build` makes from proto/ now", async () => {
    const fresh = join(prepared().work, "descriptors.binpb");
    await run("npx", ["buf", "build", "--exclude-source-info", "-o", fresh], { cwd: ROOT });
    expect(readFileSync(join(PACKAGE, "armada_jobservice/descriptors.binpb")).equals(readFileSync(fresh)), "run `npm run generate` and commit").toBe(true);
  });

  it("passes its pytest suite against the live Job Service and simulator, installed from the wheel", async () => {
    // The Airflow suite (tests/airflow) runs in the Airflow environments: test/clients/airflow-*.test.ts.
    const { env, site } = prepared();
    const summary = await pytest(env, site, [join(PACKAGE, "tests"), "--ignore", join(PACKAGE, "tests/airflow")]);
    expect(passedIn(summary), summary).toBeGreaterThanOrEqual(60);
  }, 180_000);
});
