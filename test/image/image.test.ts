/**
 * The image tar as an operator gets it: unpacked with skopeo and umoci, its
 * own entrypoint run as its own user from its own config, in a chroot with
 * /proc and /dev mounted. Needs root, umoci and skopeo, and the binary that
 * `npm run test:binary` builds first (JOBSERVICE_TEST_BINARY), so it runs there.
 */
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadImageSpec } from "../../deploy/image/spec.js";
import { JobService, JobServiceResponse_State as State } from "../../src/gen/jobservice/jobservice_pb.js";
import { freePort } from "../support/free-port.js";
import { runJobservice, type RunningProcess } from "../support/process.js";
import { armadaClients } from "../support/simulator.js";
import { eventually } from "../subscriber/harness.js";

const run = promisify(execFile);
const spec = loadImageSpec();
const IMAGE_TAR = "dist/jobservice-image.tar";

interface RuntimeConfig {
  readonly process: { readonly args: string[]; readonly env: string[]; readonly user: { uid: number; gid: number }; readonly cwd: string };
}

interface ImageConfig {
  readonly config: {
    readonly User: string;
    readonly ExposedPorts: Record<string, unknown>;
    readonly StopSignal: string;
    readonly Labels: Record<string, string>;
    readonly Env: string[];
  };
}

describe.runIf(process.env.JOBSERVICE_TEST_BINARY)("the container image (dist/jobservice-image.tar)", () => {
  let work: string;
  let rootfs: string;
  let runtime: RuntimeConfig;
  const mounted: string[] = [];
  const started: RunningProcess[] = [];

  beforeAll(async () => {
    await run("npm", ["run", "build:image"], { timeout: 120_000 });
    work = mkdtempSync(join(tmpdir(), "jobservice-image-test-"));
    await run("skopeo", ["copy", "--quiet", `docker-archive:${IMAGE_TAR}`, `oci:${join(work, "oci")}:test`]);
    await run("umoci", ["unpack", "--image", `${join(work, "oci")}:test`, join(work, "bundle")]);
    rootfs = join(work, "bundle", "rootfs");
    runtime = JSON.parse(readFileSync(join(work, "bundle", "config.json"), "utf8")) as RuntimeConfig;
    // Bun aborts without /proc; /dev gives it /dev/null and /dev/urandom.
    for (const [target, args] of [
      ["proc", ["-t", "proc", "proc"]],
      ["dev", ["--bind", "/dev"]],
    ] as const) {
      mkdirSync(join(rootfs, target), { recursive: true });
      await run("mount", [...args, join(rootfs, target)]);
      mounted.push(join(rootfs, target));
    }
  }, 150_000);

  afterAll(async () => {
    for (const { child } of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const target of mounted.reverse()) await run("umount", [target]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it("describes itself as image.json says: non-root user, port, stop signal, labels", async () => {
    const { stdout } = await run("skopeo", ["inspect", "--config", `docker-archive:${IMAGE_TAR}`]);
    const { config } = JSON.parse(stdout) as ImageConfig;
    expect(config.User).toBe(`${spec.user.uid}:${spec.user.gid}`);
    expect(Object.keys(config.ExposedPorts)).toEqual(["60003/tcp"]);
    expect(config.StopSignal).toBe("SIGTERM");
    for (const [key, value] of Object.entries(spec.labels)) expect(config.Labels[key]).toBe(value);
    expect(config.Labels["org.opencontainers.image.version"]).toMatch(/^\d+\.\d+\.\d+/);
    expect(runtime.process.user).toMatchObject({ uid: spec.user.uid, gid: spec.user.gid });
    expect(runtime.process.args).toEqual([...spec.entrypoint, ...spec.cmd]);
  });

  it("runs its entrypoint as its user in a chroot, answers gRPC and Connect JSON, and exits 0 on SIGTERM", async () => {
    const armada = runJobservice(["simulate", "--port", "0", "--queue", "q", "--run-ms", "5"]);
    started.push(armada);
    const armadaUrl = String((await armada.waitForLog((line) => line.msg === "Armada simulator listening")).url);
    const [jobId] = (
      await armadaClients(armadaUrl).submit.submitJobs({ queue: "q", jobSetId: "s", jobRequestItems: [{ annotations: { "armada-sim/outcome": "succeeded" } }] })
    ).jobResponseItems.map((item) => item.jobId);

    // As `docker run -e …` would: the image's own environment, plus settings for this test.
    const port = await freePort();
    const env = Object.fromEntries(runtime.process.env.map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]));
    const { uid, gid } = runtime.process.user;
    const service = runJobservice(
      runtime.process.args,
      { ...env, JOBSERVICE_HOST: "127.0.0.1", JOBSERVICE_PORT: String(port), ARMADA_URL: armadaUrl },
      ["chroot", `--userspec=${uid}:${gid}`, rootfs],
      { inheritEnv: false },
    );
    started.push(service);
    await service.waitForLog((line) => line.msg === "listening");
    expect(readFileSync(`/proc/${String(service.child.pid)}/status`, "utf8")).toMatch(new RegExp(`^Uid:\\s+${uid}\\s`, "m"));

    const url = `http://127.0.0.1:${String(port)}`;
    const grpc = createClient(JobService, createGrpcTransport({ baseUrl: url }));
    const answer = await eventually(
      () => grpc.getJobStatus({ queue: "q", jobSetId: "s", jobId: jobId! }),
      (a) => a.state === State.SUCCEEDED,
      10_000,
    );
    expect(answer.state).toBe(State.SUCCEEDED);
    const { stdout } = await run("curl", [
      "-s",
      "-H",
      "content-type: application/json",
      "-d",
      JSON.stringify({ queue: "q", jobSetId: "s", jobId }),
      `${url}/jobservice.JobService/GetJobStatus`,
    ]);
    expect(JSON.parse(stdout)).toEqual({ state: "SUCCEEDED" });
    const connect = createClient(JobService, createConnectTransport({ baseUrl: url, httpVersion: "1.1" }));
    expect((await connect.getJobStatus({ queue: "q", jobSetId: "s", jobId: "nope" })).state).toBe(State.JOB_ID_NOT_FOUND);

    service.child.kill("SIGTERM");
    expect(await service.exited).toBe(0);
    expect(service.logs.some((line) => line.msg === "stopped")).toBe(true);
    expect(service.stderr()).toBe("");
    armada.child.kill("SIGTERM");
  }, 30_000);
});
