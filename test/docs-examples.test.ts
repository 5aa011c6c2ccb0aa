import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runJobservice, type RunningProcess } from "./support/process.js";
import { ENV_TIMEOUT_MS, pythonEnv, ROOT, type PythonEnv } from "./support/python-env.js";

const run = promisify(execFile);

/** The pages whose examples run against the quickstart (the simulator and `npm start`). */
const PAGES = [
  "README.md",
  "docs/getting-started.md",
  "docs/api.md",
  "docs/architecture.md",
  "docs/security.md",
  "docs/armada-credentials.md",
  "docs/stores.md",
  "docs/operations-reference.md",
  "docs/deployment.md",
] as const;

/** The addresses the docs write, as the quickstart has them. */
const SERVICE = "127.0.0.1:60003";
const ARMADA = "127.0.0.1:50051";

interface Example {
  readonly page: string;
  readonly language: "sh" | "python";
  readonly code: string;
  /** The lines the page shows as output (`# …` after the commands), if any. */
  readonly expected: readonly string[];
}

function codeBlocks(page: string): Array<{ language: string; body: string }> {
  const text = readFileSync(join(ROOT, page), "utf8");
  return [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map(([, language = "", body = ""]) => ({ language, body }));
}

/** Every shell or Python block of a page that talks to the service. */
function examplesOf(page: string): Example[] {
  return codeBlocks(page).flatMap(({ language, body }) => {
    if ((language !== "sh" && language !== "python") || !body.includes(SERVICE)) return [];
    const lines = body.trimEnd().split("\n");
    const expected = lines.filter((line) => line.startsWith("# ")).map((line) => line.slice(2));
    const code = lines.filter((line) => !line.startsWith("# ")).join("\n");
    return [{ page, language, code, expected }];
  });
}

/**
 * The example as it runs here: the quickstart's fixed ports replaced by the
 * ones this test's copies listen on, so a quickstart left running on 60003 and
 * 50051 is neither needed nor disturbed; `python3` is the interpreter of the
 * environment the docs tell users to make (grpcio, protobuf, requests).
 */
function asRunHere(code: string, servicePort: number, armadaAddress: string, python: PythonEnv): string {
  return code
    .replaceAll(SERVICE, `127.0.0.1:${servicePort}`)
    .replaceAll(ARMADA, armadaAddress)
    .replace(/\bpython3\b/g, python.python);
}

const examples = PAGES.flatMap(examplesOf);
let armada: RunningProcess | undefined;
let service: RunningProcess | undefined;
let servicePort = 0;
let armadaAddress = "";
let python: PythonEnv;

beforeAll(async () => {
  python = await pythonEnv("client");
  armada = runJobservice(["simulate", "--queue", "q", "--port", "0"]);
  const { url } = await armada.waitForLog((line) => line.msg === "Armada simulator listening");
  armadaAddress = new URL(String(url)).host;
  service = runJobservice(["serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", `http://${armadaAddress}`]);
  const { port } = await service.waitForLog((line) => line.msg === "listening");
  servicePort = Number(port);
}, ENV_TIMEOUT_MS);

afterAll(async () => {
  for (const running of [service, armada]) {
    if (running === undefined) continue;
    running.child.kill("SIGTERM");
    await running.exited;
  }
});

describe("the docs' examples", () => {
  it("include the quickstart's curl, buf curl and grpcio calls", () => {
    const readme = examples.filter((example) => example.page === "README.md").map((example) => example.code);
    for (const call of ["curl -s", "--protocol grpc ", "--protocol grpcweb", "grpcio_client.py"]) {
      expect(
        readme.some((code) => code.includes(call)),
        call,
      ).toBe(true);
    }
  });

  it("say where the imports of their Python come from", () => {
    for (const page of PAGES) {
      const runsPython = examplesOf(page).some((example) => example.language === "python" || /\bpython3 (examples|-)/.test(example.code));
      if (!runsPython) continue;
      const text = readFileSync(join(ROOT, page), "utf8");
      expect(text.includes("pip install grpcio protobuf") || text.includes("getting-started.md#python"), page).toBe(true);
    }
  });

  it("are rewritten to this test's ports in every address the docs give", () => {
    const rewritten = asRunHere(`curl http://${SERVICE}/x; grpcurl ${ARMADA}; python3 -c 1 | python3 -`, 1234, "127.0.0.1:5678", {
      name: "t",
      python: "/env/bin/python",
      bin: "/env/bin",
    });
    expect(rewritten).toBe("curl http://127.0.0.1:1234/x; grpcurl 127.0.0.1:5678; /env/bin/python -c 1 | /env/bin/python -");
  });

  it.each(examples.map((example, index) => [`${example.page} #${index}`, example] as const))(
    "%s runs as written",
    async (_name, example) => {
      const code = asRunHere(example.code, servicePort, armadaAddress, python);
      const { stdout } =
        example.language === "python"
          ? await run(python.python, ["-c", code], { cwd: ROOT })
          : await run("bash", ["-euo", "pipefail", "-c", code], { cwd: ROOT });
      if (example.expected.length > 0)
        expect(
          stdout
            .trim()
            .split("\n")
            .map((line) => line.trimEnd()),
        ).toEqual(example.expected);
    },
    60_000,
  );
});
