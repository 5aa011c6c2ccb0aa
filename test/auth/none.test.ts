import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { AUTH_DEFAULTS } from "../../src/auth/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { startTestService } from "../support/service.js";

async function startupLog(host: string): Promise<string> {
  let logged = "";
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((logged += chunk.toString()), done()) });
  const service = await startTestService({ host, auth: { ...AUTH_DEFAULTS }, logger: createLogger("info", sink) });
  await service.stop();
  return logged;
}

describe("JOBSERVICE_AUTH=none", () => {
  it("warns at start-up when the listener is reachable beyond loopback", async () => {
    expect(await startupLog("0.0.0.0")).toMatch(/"level":40,.*JOBSERVICE_AUTH is none and the listener is reachable beyond loopback/);
  });

  it("does not warn on loopback", async () => {
    expect(await startupLog("127.0.0.1")).not.toContain("JOBSERVICE_AUTH is none");
  });
});
