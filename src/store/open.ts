import type { Logger } from "../observability/logger.js";
import { createMemoryStore } from "./memory.js";
import { createRedisStore } from "./redis.js";
import { createRedisClusterStore } from "./redis-cluster.js";
import type { JobStore } from "./store.js";
import { createUpstashStore } from "./upstash.js";

export type StoreSpec =
  | { readonly kind: "memory" }
  | { readonly kind: "redis"; readonly url: string }
  | { readonly kind: "redis-cluster"; readonly url: string }
  | { readonly kind: "upstash"; readonly url: string; readonly token: string };

export function openStore(spec: StoreSpec, options: { ttlSeconds: number; logger: Logger }): JobStore {
  switch (spec.kind) {
    case "memory":
      return createMemoryStore({ ttlSeconds: options.ttlSeconds });
    case "redis":
      return createRedisStore({ url: spec.url, ttlSeconds: options.ttlSeconds, logger: options.logger });
    case "redis-cluster":
      return createRedisClusterStore({ url: spec.url, ttlSeconds: options.ttlSeconds, logger: options.logger });
    case "upstash":
      return createUpstashStore({ url: spec.url, token: spec.token, ttlSeconds: options.ttlSeconds });
  }
}
