import { createHash } from "node:crypto";
import type { LuaScript, ScriptRunner } from "./scripts.js";

/** What the RESP clients (ioredis' Redis and Cluster) offer for sending any command. */
export interface RespCaller {
  call(command: string, args: (string | number)[]): Promise<unknown>;
}

/**
 * Runs the shared scripts by SHA and loads one with EVAL when the server does
 * not know it: its script cache is empty after a restart, and on a Cluster
 * replica promoted to master, which never ran EVAL itself. The Cluster client
 * routes both by the first key's slot.
 */
export function respScriptRunner(client: RespCaller): ScriptRunner {
  // Digests are made here, not with the scripts: the edge entry runs them too, without Node's crypto.
  const digests = new Map<LuaScript, string>();
  const digestOf = (script: LuaScript): string => {
    let digest = digests.get(script);
    if (digest === undefined) digests.set(script, (digest = createHash("sha1").update(script.source).digest("hex")));
    return digest;
  };
  return async (script, keys, args) => {
    const rest = [keys.length, ...keys, ...args];
    try {
      return await client.call("EVALSHA", [digestOf(script), ...rest]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await client.call("EVAL", [script.source, ...rest]);
    }
  };
}
