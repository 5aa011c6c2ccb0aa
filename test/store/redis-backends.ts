import { Redis } from "ioredis";
import { afterAll, beforeAll } from "vitest";
import { jobSetKeys } from "../../src/store/keys.js";
import type { JobSetKey, JobStore } from "../../src/store/store.js";
import { startRedisServer, type RedisServer } from "../support/redis-server.js";
import { startUpstashGateway, type UpstashGateway } from "../support/upstash-gateway.js";
import type { StoreUnderTest } from "./contract.js";

export interface RedisBackends {
  readonly server: RedisServer;
  /** The Upstash REST gateway in front of `server`, accepting `token`. */
  readonly gateway: UpstashGateway;
  readonly token: string;
  /** A plain client on `server`, to look at and tamper with what the stores wrote. */
  readonly admin: Redis;
}

/**
 * Starts a redis-server, the Upstash gateway in front of it and an admin
 * client before the enclosing suite, and stops them after it. The result is
 * only usable once the suite has started.
 */
export function useRedisBackends(): () => RedisBackends {
  let backends: RedisBackends | undefined;
  beforeAll(async () => {
    const server = await startRedisServer();
    const token = "test-token-for-the-gateway";
    const gateway = await startUpstashGateway({ redisUrl: server.url, token });
    backends = { server, gateway, token, admin: new Redis(server.url) };
  });
  afterAll(async () => {
    backends?.admin.disconnect();
    await backends?.gateway.stop();
    await backends?.server.stop();
  });
  return () => {
    if (!backends) throw new Error("the Redis backends start with the suite");
    return backends;
  };
}

/** The commands that age keys, which a single-node client and a Cluster client both have. */
export type KeyAger = Pick<Redis, "pttl" | "pexpire" | "del">;

/** A store and a second handle on its data, both from `open`, aged through `admin`. */
export function subjectOnRedis(open: () => JobStore, admin: KeyAger): StoreUnderTest {
  const store = open();
  const reader = open();
  return {
    store,
    reader,
    elapse: elapseInRedis(admin),
    close: async () => {
      await Promise.all([store.close(), reader.close()]);
    },
  };
}

/**
 * Makes time pass for one job set in a real Redis by taking `ms` off each of
 * its keys' remaining time to live, deleting the keys whose time runs out.
 */
export function elapseInRedis(admin: KeyAger): (jobSet: JobSetKey, ms: number) => Promise<void> {
  return async (jobSet, ms) => {
    const keys = jobSetKeys(jobSet);
    for (const key of [keys.jobs, keys.lease]) {
      const remaining = await admin.pttl(key);
      if (remaining === -2) continue;
      if (remaining === -1) throw new Error(`${key} has no time to live`);
      if (remaining - ms > 0) await admin.pexpire(key, remaining - ms);
      else await admin.del(key);
    }
  };
}
