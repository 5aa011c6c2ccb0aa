import { isClusterUrl, parseClusterUrl } from "../store/cluster-url.js";
import type { StoreSpec } from "../store/open.js";
import type { ReplicaAck } from "../store/resp-scripts.js";
import { integer, url } from "./parse.js";
import type { SettingReader } from "./setting-reader.js";
import { defaultText, type SettingFlag } from "./settings.js";

/** JOBSERVICE_STORE (or UPSTASH_REDIS_REST_URL): which store, its URL checked now. */
export function storeSpec(raw: Map<SettingFlag, string>, problems: string[], name: (flag: SettingFlag) => string): StoreSpec {
  const flag: SettingFlag = raw.has("store") ? "store" : raw.has("upstash-url") ? "upstash-url" : "store";
  const value = raw.get(flag) ?? defaultText("store");
  if (value === "memory") return { kind: "memory" };
  if (isClusterUrl(value)) {
    try {
      parseClusterUrl(value);
    } catch (error) {
      problems.push(`${name(flag)}: ${(error as Error).message}`);
      return { kind: "memory" };
    }
    return { kind: "redis-cluster", url: value };
  }
  let parsed: URL;
  try {
    // Cluster URLs were taken above; they are listed so the message names them.
    parsed = url(["redis:", "rediss:", "redis-cluster:", "rediss-cluster:", "https:"])(value);
  } catch (error) {
    problems.push(`${name(flag)}: expected "memory" or a URL; ${(error as Error).message}`);
    return { kind: "memory" };
  }
  if (parsed.protocol !== "https:") return { kind: "redis", url: value };
  const token = raw.get("upstash-token");
  if (!token) {
    problems.push(`${name("upstash-token")}: required with an Upstash REST store (${name(flag)} is an https:// URL)`);
    return { kind: "memory" };
  }
  return { kind: "upstash", url: value, token };
}

/** JOBSERVICE_STORE_WAIT_REPLICAS and its timeout: undefined when off (0), refused for stores without replicas. */
export function replicaAck(store: StoreSpec, reader: SettingReader, problems: string[], name: (flag: SettingFlag) => string): ReplicaAck | undefined {
  const replicas = reader.value("store-wait-replicas", integer(0, 64));
  const timeoutMs = reader.value("store-wait-timeout-ms", integer(1, 60_000));
  if (replicas === 0) return undefined;
  if (store.kind !== "redis" && store.kind !== "redis-cluster") {
    problems.push(`${name("store-wait-replicas")}: only a Redis or Redis Cluster store has replicas to wait for (the store is ${store.kind}); expected 0`);
    return undefined;
  }
  return { replicas, timeoutMs };
}
