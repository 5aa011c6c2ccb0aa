import { mkdtemp, readFile, rm, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { createAuthorization } from "../../src/armada/credentials.js";
import type { ArmadaCredentials } from "../../src/armada/authorization.js";
import { eventually } from "../subscriber/harness.js";

const HELPER = fileURLToPath(new URL("../support/token-helper.mjs", import.meta.url));
const LEAKED = "leaked-secret-value-42";

async function failure(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConnectError) return err;
    throw err;
  }
  throw new Error("expected a failure");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("exec credentials (armadactl's execAuth)", () => {
  let dir: string;
  let runs: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "exec-auth-"));
    runs = join(dir, "runs");
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const exec = (args: string[], overrides: Partial<Extract<ArmadaCredentials, { kind: "exec" }>> = {}): ArmadaCredentials => ({
    kind: "exec",
    command: process.execPath,
    args: [HELPER, ...args],
    env: { TOKEN_HELPER_RUNS: runs },
    timeoutMs: 5_000,
    cacheSeconds: 60,
    ...overrides,
  });
  const runCount = async (): Promise<number> => (await readFile(runs, "utf8").catch(() => "")).split("\n").filter(Boolean).length;

  it("sends the trimmed stdout as a bearer token, reused for the configured time when it is not a JWT", async () => {
    let now = 1_000_000;
    const authorize = createAuthorization(exec(["token", "opaque-token"], { cacheSeconds: 40 }), { now: () => now });
    const before = await runCount();
    expect(await authorize()).toBe("Bearer opaque-token");
    now += 29_000;
    expect(await authorize()).toBe("Bearer opaque-token");
    expect(await runCount()).toBe(before + 1);
    // 40 s lifetime: run again from 30 s on.
    now += 2_000;
    await authorize();
    expect(await runCount()).toBe(before + 2);
  });

  it("reuses a JWT until shortly before its own exp", async () => {
    // The helper sets exp an hour from the real clock; the service reads it.
    const start = Date.now();
    let now = start;
    const authorize = createAuthorization(exec(["jwt", "3600"], { cacheSeconds: 1 }), { now: () => now });
    const before = await runCount();
    const first = await authorize();
    expect(first).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    now = start + 3_500_000;
    expect(await authorize()).toBe(first);
    expect(await runCount()).toBe(before + 1);
    // Within a minute of exp: a new run.
    now = start + 3_545_000;
    await authorize();
    expect(await runCount()).toBe(before + 2);
  });

  it("refuses a JWT that has already expired", async () => {
    const err = await failure(createAuthorization(exec(["jwt", "-10"]), { now: Date.now })());
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toMatch(/printed a JWT that expired at \d{4}-\d\d-\d\dT/);
  });

  it("passes arguments and environment exactly, with no shell in between", async () => {
    const literal = ["$HOME", "a b; echo injected", "`id`", "*"];
    const args = await createAuthorization(exec(["args", ...literal]), { now: Date.now })();
    expect(JSON.parse(Buffer.from(args?.replace(/^Bearer /, "") ?? "", "base64url").toString())).toEqual(literal);
    const env = await createAuthorization(exec(["env", "HELPER_AUDIENCE"], { env: { HELPER_AUDIENCE: "armada-prod" } }), { now: Date.now })();
    expect(env).toBe("Bearer armada-prod");
  });

  it("concurrent calls share one run", async () => {
    const authorize = createAuthorization(exec(["token", "shared"]), { now: Date.now });
    const before = await runCount();
    const values = await Promise.all(Array.from({ length: 8 }, () => authorize()));
    expect(new Set(values)).toEqual(new Set(["Bearer shared"]));
    expect(await runCount()).toBe(before + 1);
  });

  it("a failing command is UNAVAILABLE naming its exit code, never what it printed, and is retried after a pause", async () => {
    let now = 2_000_000;
    const authorize = createAuthorization(exec(["fail", "3", LEAKED]), { now: () => now });
    const before = await runCount();
    const err = await failure(authorize());
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toBe(
      `Armada exec credential command ${JSON.stringify(process.execPath)} exited with code 3 (stderr: ${`error: ${LEAKED}\n`.length} bytes, not shown as it may hold secrets)`,
    );
    expect(err.message).not.toContain(LEAKED);
    // Streams retrying at once get the same answer without another run…
    expect((await failure(authorize())).rawMessage).toBe(err.rawMessage);
    expect(await runCount()).toBe(before + 1);
    // …and a few seconds later the command runs again.
    now += 6_000;
    await failure(authorize());
    expect(await runCount()).toBe(before + 2);
  });

  it("a command that does not finish is killed with everything it started", async () => {
    const pids = join(dir, "hang.pids");
    const err = await failure(createAuthorization(exec(["hang", pids], { timeoutMs: 1_500 }), { now: Date.now })());
    expect(err.code).toBe(Code.Unavailable);
    expect(err.rawMessage).toMatch(/did not finish within 1500 ms and was killed$/);
    const [child, grandchild] = (await readFile(pids, "utf8")).split(" ").map(Number);
    await eventually(
      () => [alive(child!), alive(grandchild!)],
      (states) => states.every((s) => !s),
      3_000,
    );
  });

  it("a missing, non-executable or silent command says so", async () => {
    const missing = await failure(createAuthorization(exec([], { command: join(dir, "no-such-helper") }), { now: Date.now })());
    expect(missing.rawMessage).toBe(`Armada exec credential command ${JSON.stringify(join(dir, "no-such-helper"))} was not found`);
    const script = join(dir, "not-executable");
    await writeFile(script, "#!/bin/sh\necho t\n");
    await chmod(script, 0o644);
    expect((await failure(createAuthorization(exec([], { command: script, args: [] }), { now: Date.now })())).rawMessage).toMatch(/is not executable$/);
    const silent = await failure(createAuthorization(exec(["env", "UNSET_VARIABLE_FOR_TEST"]), { now: Date.now })());
    expect(silent.rawMessage).toMatch(/exited with code 0 but printed no token$/);
    const lines = await failure(createAuthorization(exec(["token", "two words"]), { now: Date.now })());
    expect(lines.rawMessage).toMatch(/exited with code 0 but printed \d+ bytes that are not a single token$/);
    expect(lines.rawMessage).not.toContain("two words");
  });
});
