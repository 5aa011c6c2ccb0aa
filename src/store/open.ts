import type { Logger } from "../observability/logger.js";
import { createMemoryStore } from "./memory.js";
import { createRedisStore } from "./redis.js";
import { createRedisClusterStore } from "./redis-cluster.js";
import type { ReplicaAck } from "./resp-scripts.js";
import type { JobStore } from "./store.js";
import { createUpstashStore } from "./upstash.js";

export type StoreSpec =
  | { readonly kind: "memory" }
  | { readonly kind: "redis"; readonly url: string }
  | { readonly kind: "redis-cluster"; readonly url: string }
  | { readonly kind: "upstash"; readonly url: string; readonly token: string };

/**
 * `replicaAck`: acknowledge a write only once this many replicas have it
 * (Redis and Redis Cluster only; the configuration refuses it elsewhere).
 */
export function openStore(spec: StoreSpec, options: { ttlSeconds: number; logger: Logger; replicaAck?: ReplicaAck }): JobStore {
  switch (spec.kind) {
    case "memory":
      return createMemoryStore({ ttlSeconds: options.ttlSeconds });
    case "redis":
      return createRedisStore({ url: spec.url, ttlSeconds: options.ttlSeconds, logger: options.logger, replicaAck: options.replicaAck });
    case "redis-cluster":
      return createRedisClusterStore({ url: spec.url, ttlSeconds: options.ttlSeconds, logger: options.logger, replicaAck: options.replicaAck });
    case "upstash":
      return createUpstashStore({ url: spec.url, token: spec.token, ttlSeconds: options.ttlSeconds });
  }
}
