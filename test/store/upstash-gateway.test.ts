import { Redis as Upstash } from "@upstash/redis";
import { describe, expect, it } from "vitest";
import { useRedisBackends } from "./redis-backends.js";

// The gateway is test support, but other suites trust it to behave like Upstash.
describe("Upstash REST gateway (test support)", () => {
  const backends = useRedisBackends();

  async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
    const { gateway, token } = backends();
    const response = await fetch(`${gateway.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  }

  it("runs one command and answers {result}, bulk strings in base64 only when asked", async () => {
    await expect(post("/", ["SET", "gateway:a", "123"])).resolves.toStrictEqual({ status: 200, body: { result: "OK" } });
    await expect(post("/", ["GET", "gateway:a"])).resolves.toStrictEqual({ status: 200, body: { result: "123" } });
    await expect(post("/", ["GET", "gateway:a"], { "upstash-encoding": "base64" })).resolves.toStrictEqual({
      status: 200,
      body: { result: Buffer.from("123").toString("base64") },
    });
    await expect(post("/", ["GET", "gateway:missing"])).resolves.toStrictEqual({ status: 200, body: { result: null } });
  });

  it("answers a failing command with 400 and {error}", async () => {
    await post("/", ["SET", "gateway:string", "x"]);
    await expect(post("/", ["HGET", "gateway:string", "f"])).resolves.toMatchObject({ status: 400, body: { error: expect.stringMatching(/^WRONGTYPE/) } });
  });

  it("runs a pipeline, each command with its own result or error", async () => {
    await post("/", ["SET", "gateway:string", "x"]);
    await expect(
      post("/pipeline", [
        ["INCR", "gateway:counter"],
        ["HGET", "gateway:string", "f"],
        ["LRANGE", "gateway:nothing", 0, -1],
      ]),
    ).resolves.toMatchObject({
      status: 200,
      body: [{ result: 1 }, { error: expect.stringMatching(/^WRONGTYPE/) }, { result: [] }],
    });
  });

  it("runs multi-exec as one transaction on one connection", async () => {
    const { admin } = backends();
    await admin.del("gateway:tx");
    const transactions = Array.from({ length: 20 }, () =>
      post("/multi-exec", [
        ["INCR", "gateway:tx"],
        ["INCR", "gateway:tx"],
      ]),
    );
    const results = (await Promise.all(transactions)).map(({ body }) => body as { result: number }[]);
    // Atomic: each transaction's two increments are adjacent, so the first is always odd.
    for (const [first, second] of results) {
      expect(first?.result).toBeTypeOf("number");
      expect((first?.result ?? 0) % 2).toBe(1);
      expect(second?.result).toBe((first?.result ?? 0) + 1);
    }
    await expect(post("/multi-exec", [["NOT-A-COMMAND"]])).resolves.toMatchObject({ status: 400, body: { error: expect.stringMatching(/EXECABORT/) } });
  });

  it("refuses a missing or wrong token with 401", async () => {
    const { gateway } = backends();
    const bare = await fetch(`${gateway.url}/`, { method: "POST", body: JSON.stringify(["PING"]) });
    expect(bare.status).toBe(401);
    await expect(post("/", ["PING"], { authorization: "Bearer wrong" })).resolves.toStrictEqual({ status: 401, body: { error: "Unauthorized" } });
  });

  it("refuses bodies that are not commands", async () => {
    await expect(post("/", { command: "PING" })).resolves.toMatchObject({ status: 400 });
    await expect(post("/pipeline", [["PING"], "PING"])).resolves.toMatchObject({ status: 400 });
  });

  it("serves @upstash/redis: hashes, scripts, pipelines and transactions", async () => {
    const { gateway, token } = backends();
    const client = new Upstash({ url: gateway.url, token, automaticDeserialization: false, enableTelemetry: false });
    await client.hset("gateway:hash", { a: "1e5", b: "é😀" });
    await expect(client.hmget("gateway:hash", "a", "b", "c")).resolves.toStrictEqual(["1e5", "é😀", null]);
    await expect(client.eval("return {KEYS[1], ARGV[1], 7, false}", ["k"], ["v"])).resolves.toStrictEqual(["k", "v", 7, null]);
    const transaction = client.multi();
    transaction.set("gateway:t", "1");
    transaction.get("gateway:t");
    await expect(transaction.exec()).resolves.toStrictEqual(["OK", "1"]);
  });
});
