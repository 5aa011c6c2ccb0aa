import { isClusterUrl, parseClusterUrl } from "../store/cluster-url.js";
import type { StoreSpec } from "../store/open.js";
import { url } from "./parse.js";
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
