import { Redis } from "ioredis";
import { jobSetKeys } from "../../src/store/keys.js";
import type { JobSetKey } from "../../src/store/store.js";

/** Commands a client sends itself: each is one round trip (the commands a script runs are not). */
const CLIENT_COMMANDS: ReadonlySet<string> = new Set(["eval", "evalsha", "eval_ro", "evalsha_ro", "fcall", "ping", "multi", "exec", "quit"]);
/** The harness's own commands, never counted against the store. */
const HARNESS_COMMANDS: ReadonlySet<string> = new Set(["info", "config|resetstat", "config", "flushall", "memory|usage", "memory", "client|setname", "client"]);

export interface CommandCounts {
  /** Every command Redis executed for the store, including those inside scripts. */
  readonly commands: number;
  /** Commands the store's client sent: one network round trip each. */
  readonly roundTrips: number;
  readonly byCommand: Readonly<Record<string, number>>;
}

/** The measuring side's own connection to the Redis under test. */
export interface RedisAdmin {
  /** Empties the server and zeroes its command statistics. */
  reset(): Promise<void>;
  commandCounts(): Promise<CommandCounts>;
  /** Bytes of Redis memory the job sets' keys use (MEMORY USAGE, every element counted). */
  memoryUsage(jobSets: readonly JobSetKey[]): Promise<number>;
  close(): Promise<void>;
}

export function redisAdmin(url: string): RedisAdmin {
  const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: false });
  return {
    async reset() {
      await client.flushall();
      await client.config("RESETSTAT");
    },
    async commandCounts() {
      const info = await client.info("commandstats");
      const byCommand: Record<string, number> = {};
      for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
        const name = match[1] as string;
        if (!HARNESS_COMMANDS.has(name)) byCommand[name] = Number(match[2]);
      }
      const commands = Object.values(byCommand).reduce((a, b) => a + b, 0);
      const roundTrips = Object.entries(byCommand)
        .filter(([name]) => CLIENT_COMMANDS.has(name))
        .reduce((sum, [, calls]) => sum + calls, 0);
      return { commands, roundTrips, byCommand };
    },
    async memoryUsage(jobSets) {
      let bytes = 0;
      for (const jobSet of jobSets) {
        const usage = (await client.call("MEMORY", "USAGE", jobSetKeys(jobSet).jobs, "SAMPLES", "0")) as number | null;
        bytes += usage ?? 0;
      }
      return bytes;
    },
    async close() {
      await client.quit().catch(() => undefined);
      client.disconnect();
    },
  };
}
