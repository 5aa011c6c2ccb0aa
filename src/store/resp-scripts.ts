import type { ScriptRunner } from "./scripts.js";

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
  return async (script, keys, args) => {
    const rest = [keys.length, ...keys, ...args];
    try {
      return await client.call("EVALSHA", [script.sha, ...rest]);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return await client.call("EVAL", [script.source, ...rest]);
    }
  };
}
