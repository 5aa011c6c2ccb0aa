import { describe, expect, it } from "vitest";
import { loadServeConfig } from "../../src/config/load.js";

const load = (env: Record<string, string>) => () => loadServeConfig(env, []);

describe("waiting for store replicas before a write counts", () => {
  it("is off by default", () => {
    expect(loadServeConfig({ JOBSERVICE_STORE: "redis://127.0.0.1:6379" }, []).replicaAck).toBeUndefined();
  });

  it("takes a replica count and a timeout for Redis and Redis Cluster", () => {
    expect(loadServeConfig({ JOBSERVICE_STORE: "redis://127.0.0.1:6379", JOBSERVICE_STORE_WAIT_REPLICAS: "1" }, []).replicaAck).toEqual({
      replicas: 1,
      timeoutMs: 1000,
    });
    expect(
      loadServeConfig({ JOBSERVICE_STORE: "redis-cluster://10.0.0.1:7000,10.0.0.2:7001" }, ["--store-wait-replicas", "2", "--store-wait-timeout-ms", "250"])
        .replicaAck,
    ).toEqual({ replicas: 2, timeoutMs: 250 });
  });

  it("is refused at start-up for a store without replicas to wait for, naming the setting", () => {
    expect(load({ JOBSERVICE_STORE_WAIT_REPLICAS: "1" })).toThrow(
      "invalid configuration:\n  JOBSERVICE_STORE_WAIT_REPLICAS (--store-wait-replicas): only a Redis or Redis Cluster store has replicas to wait for (the store is memory); expected 0",
    );
    expect(load({ JOBSERVICE_STORE: "https://eu1.example.io", UPSTASH_REDIS_REST_TOKEN: "t", JOBSERVICE_STORE_WAIT_REPLICAS: "1" })).toThrow(
      /the store is upstash/,
    );
    expect(load({ JOBSERVICE_STORE: "redis://127.0.0.1:6379", JOBSERVICE_STORE_WAIT_TIMEOUT_MS: "0" })).toThrow(
      /\n {2}JOBSERVICE_STORE_WAIT_TIMEOUT_MS \(--store-wait-timeout-ms\)/,
    );
  });
});
