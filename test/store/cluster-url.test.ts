import { describe, expect, it } from "vitest";
import { redactUrl } from "../../src/observability/redact-url.js";
import { describeClusterAddress, isClusterUrl, parseClusterUrl } from "../../src/store/cluster-url.js";

describe("Redis Cluster store URLs", () => {
  it("lists every startup node, with Redis's default port where none is given", () => {
    expect(parseClusterUrl("redis-cluster://10.0.0.1:7000,cache-b,[::1]:7002/")).toEqual({
      nodes: [
        { host: "10.0.0.1", port: 7000 },
        { host: "cache-b", port: 6379 },
        { host: "::1", port: 7002 },
      ],
      tls: false,
    });
  });

  it("takes user and password from the user info, percent-decoded, and TLS from rediss-cluster://", () => {
    expect(parseClusterUrl("rediss-cluster://jobs:p%40ss%3Aw0rd@a:1,b:2")).toEqual({
      nodes: [
        { host: "a", port: 1 },
        { host: "b", port: 2 },
      ],
      username: "jobs",
      password: "p@ss:w0rd",
      tls: true,
    });
    expect(parseClusterUrl("redis-cluster://:only-a-password@a:1")).toMatchObject({ password: "only-a-password" });
    expect(parseClusterUrl("redis-cluster://:only-a-password@a:1")).not.toHaveProperty("username");
  });

  it("refuses what a cluster cannot be, without repeating the URL", () => {
    const refusals = [
      ["redis-cluster://", /node 1 of the list: expected host or host:port, got nothing/],
      ["redis-cluster://a:1,,b:2", /node 2 of the list/],
      ["redis-cluster://a:0", /port from 1 to 65535/],
      ["redis-cluster://:pw@a:1/2", /database 0 only/],
      ["redis-cluster://:pw@a:1?tls=true", /no query/],
      ["redis-cluster://:%E0%A4%A@a:1", /percent-encoded/],
      ["redis://a:1", /redis-cluster:\/\//],
    ] as const;
    for (const [url, message] of refusals) {
      expect(() => parseClusterUrl(url), url).toThrow(message);
      try {
        parseClusterUrl(url);
      } catch (error) {
        expect((error as Error).message).not.toContain("pw");
      }
    }
  });

  it("tells cluster URLs from others, and describes them without credentials", () => {
    expect(isClusterUrl("REDIS-CLUSTER://a:1")).toBe(true);
    expect(isClusterUrl("rediss-cluster://a:1")).toBe(true);
    expect(isClusterUrl("redis://a:1")).toBe(false);
    expect(describeClusterAddress(parseClusterUrl("rediss-cluster://u:secret@a:1,[::1]:2"))).toBe("rediss-cluster://a:1,[::1]:2");
    expect(redactUrl("redis-cluster://u:se/cr@et@a:1,b:2")).toBe("redis-cluster://redacted@a:1,b:2");
  });
});
