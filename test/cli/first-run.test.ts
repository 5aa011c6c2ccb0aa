/**
 * What a new user meets first: a port someone else holds, the version, the
 * default address. Runs the sources, and the built binary under
 * `npm run test:binary` (JOBSERVICE_TEST_BINARY), which shares this code.
 */
import { execFile } from "node:child_process";
import { createServer, type Server } from "node:net";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import packageJson from "../../package.json" with { type: "json" };
import { runJobservice, UNDER_TEST } from "../support/process.js";

const run = promisify(execFile);
/** Each test starts a process (tsx compiles the sources first): seconds when idle, far more on a loaded machine. */
const PROCESS_TEST_MS = 120_000;
const [command = process.execPath, ...prefix] = UNDER_TEST;
let holder: Server;
let busyPort: number;

beforeAll(async () => {
  // A port held for the whole file: whatever else runs on the machine, it stays busy.
  holder = createServer();
  busyPort = await new Promise<number>((resolve) => holder.listen(0, "127.0.0.1", () => resolve((holder.address() as { port: number }).port)));
});
afterAll(() => holder.close());

describe("a port that is already in use", () => {
  it.each([
    {
      name: "serve",
      args: () => ["serve", "--host", "127.0.0.1", "--port", String(busyPort), "--armada-url", "http://127.0.0.1:1"],
      setting: "JOBSERVICE_PORT (--port)",
    },
    { name: "simulate", args: () => ["simulate", "--host", "127.0.0.1", "--port", String(busyPort)], setting: "ARMADA_SIM_PORT (--port)" },
    { name: "demo", args: () => ["demo", "--port", String(busyPort), "--timeout-s", "5"], setting: "--port" },
  ])(
    "$name says so in one line naming the port and the setting, and exits 1",
    async ({ args, setting }) => {
      const child = runJobservice(args());
      expect(await child.exited).toBe(1);
      const lines = child.stderr().trim().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`cannot listen on 127.0.0.1:${busyPort}: the port is already in use`);
      expect(lines[0]).toContain(`choose another port with ${setting}, or 0 for a free one`);
      expect(child.stderr()).not.toMatch(/\bat .*\(.*:\d+:\d+\)/);
    },
    PROCESS_TEST_MS,
  );
});

describe("jobservice --version", () => {
  it.each(["--version", "version"])(
    "%s prints the package's version",
    async (flag) => {
      const { stdout } = await run(command, [...prefix, flag]);
      expect(stdout).toBe(`jobservice ${packageJson.version}\n`);
    },
    PROCESS_TEST_MS,
  );
});

describe("jobservice from a checkout", () => {
  it(
    "runs as `npx jobservice`, the package's own bin, with nothing installed globally",
    async () => {
      const { stdout } = await run("npx", ["--no-install", "jobservice", "--version"], { timeout: 90_000 });
      expect(stdout).toBe(`jobservice ${packageJson.version}\n`);
    },
    PROCESS_TEST_MS,
  );
});

describe("the default address", () => {
  it(
    "is loopback, so the first `npm start` neither opens the service to the network nor warns about it",
    async () => {
      const child = runJobservice(["serve", "--port", "0", "--armada-url", "http://127.0.0.1:1"]);
      try {
        const listening = await child.waitForLog((line) => line.msg === "listening", 60_000);
        expect(listening.host).toBe("127.0.0.1");
        expect(child.logs.filter((line) => line.level === 40)).toEqual([]);
      } finally {
        child.child.kill("SIGTERM");
        await child.exited;
      }
    },
    PROCESS_TEST_MS,
  );
});
