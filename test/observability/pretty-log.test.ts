/**
 * JOBSERVICE_LOG_FORMAT: JSON lines for machines, readable lines for people,
 * chosen by whether stdout is a terminal unless set.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { prettyLine, resolveLogFormat } from "../../src/observability/pretty-log.js";
import { runJobservice, UNDER_TEST } from "../support/process.js";
import { eventually } from "../subscriber/harness.js";

describe("the log format", () => {
  it("is readable on a terminal and JSON anywhere else, unless chosen", () => {
    expect(resolveLogFormat("auto", { isTTY: true })).toBe("pretty");
    expect(resolveLogFormat("auto", { isTTY: false })).toBe("json");
    expect(resolveLogFormat("auto", {})).toBe("json");
    expect(resolveLogFormat("json", { isTTY: true })).toBe("json");
    expect(resolveLogFormat("pretty", {})).toBe("pretty");
  });

  it("writes a line as ISO time, level, message and the other fields", () => {
    const line = JSON.stringify({
      level: 40,
      time: Date.UTC(2026, 11, 7, 3, 4, 5, 6),
      service: "armada-jobservice",
      msg: "redis store unreachable",
      cause: 'cannot resolve host "nope"',
      port: 6379,
    });
    expect(prettyLine(line, false)).toBe('2026-12-07T03:04:05.006Z WARN  redis store unreachable cause="cannot resolve host \\"nope\\"" port=6379\n');
  });

  it("puts an error's stack under its line", () => {
    const line = JSON.stringify({ level: 50, time: 0, msg: "failed", err: { message: "boom", stack: "Error: boom\n    at here" } });
    expect(prettyLine(line, false)).toBe("1970-01-01T00:00:00.000Z ERROR failed\n    Error: boom\n        at here\n");
  });

  it("stays JSON when the service's stdout is a pipe", async () => {
    const child = runJobservice(["serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", "http://127.0.0.1:1"]);
    try {
      const listening = await child.waitForLog((line) => line.msg === "listening", 60_000);
      expect(typeof listening.time).toBe("number");
    } finally {
      child.child.kill("SIGTERM");
      await child.exited;
    }
  }, 90_000);

  it("is readable when the service runs on a terminal (a pseudo-terminal from script(1))", async () => {
    const [command = process.execPath, ...prefix] = UNDER_TEST;
    const quoted = [command, ...prefix, "serve", "--host", "127.0.0.1", "--port", "0", "--armada-url", "http://127.0.0.1:1"].map((a) => `'${a}'`).join(" ");
    const typescript = join(mkdtempSync(join(tmpdir(), "jobservice-tty-")), "typescript");
    // script(1) gives the service a terminal as stdout and copies what it shows to a file; detached, so it stops as a group.
    const terminal = spawn("script", ["-qfec", quoted, typescript], { stdio: "ignore", detached: true });
    try {
      const shown = await eventually(
        () => (existsSync(typescript) ? readFileSync(typescript, "utf8").replace(/\x1b\[[0-9;]*m/g, "") : ""),
        (text) => text.includes("listening"),
        60_000,
        100,
      );
      expect(shown).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO  listening host=127\.0\.0\.1 port=\d+/m);
      expect(shown).not.toContain('"level":');
    } finally {
      const exited = new Promise((resolve) => terminal.once("exit", resolve));
      if (terminal.pid !== undefined && terminal.exitCode === null) {
        process.kill(-terminal.pid, "SIGTERM");
        const late = setTimeout(() => terminal.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(late);
      }
    }
  }, 90_000);
});
