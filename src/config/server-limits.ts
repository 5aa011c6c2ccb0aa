import type { ConnectionLimits } from "../server/limits.js";
import { integer } from "./parse.js";
import type { SettingReader } from "./setting-reader.js";

/** What one process lets its clients hold: connections, header size, streams, idle and slow senders. */
export function connectionLimits({ value }: SettingReader): ConnectionLimits {
  return {
    maxConnections: value("max-connections", integer(1, 1_000_000)),
    maxHeaderBytes: value("max-header-bytes", integer(1024, 1024 * 1024)),
    maxConcurrentStreams: value("max-concurrent-streams", integer(1, 100_000)),
    idleTimeoutMs: value("idle-timeout-seconds", integer(1, 86_400)) * 1000,
    requestTimeoutMs: value("request-timeout-seconds", integer(1, 3600)) * 1000,
  };
}
