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
  const digestOf = scriptDigests();
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

/** How many replicas must hold a write before it counts, and how long to wait for them (Redis `WAIT`). */
export interface ReplicaAck {
  readonly replicas: number;
  readonly timeoutMs: number;
}

/** What the RESP clients offer for sending commands together, in order, on one connection (for a Cluster: the slot's master). */
export interface RespPipeliner {
  pipeline(commands: (string | number)[][]): { exec(): Promise<[Error | null, unknown][] | null> };
}

/**
 * Runs a script, then `WAIT` on the same connection, in one pipeline: the
 * script's reply counts only once `ack.replicas` replicas have the write.
 * The write itself is applied on the master either way; a shortfall is an
 * error, so the caller treats the write as failed (its effect unknown) and
 * reads the store again. A client used for this must not carry reads: WAIT
 * blocks its connection until the replicas answer.
 */
export function respReplicatedRunner(client: RespPipeliner, ack: ReplicaAck): ScriptRunner {
  const digestOf = scriptDigests();
  const wait = ["wait", ack.replicas, ack.timeoutMs];
  const send = async (first: (string | number)[]): Promise<[Error | null, unknown][]> => (await client.pipeline([first, wait]).exec()) ?? [];
  return async (script, keys, args) => {
    const rest = [keys.length, ...keys, ...args];
    let replies = await send(["evalsha", digestOf(script), ...rest]);
    if (replies[0]?.[0]?.message.startsWith("NOSCRIPT")) replies = await send(["eval", script.source, ...rest]);
    const [[scriptError, reply] = [new Error("no reply to the script"), undefined], [waitError, acked] = [new Error("no reply to WAIT"), undefined]] = replies;
    if (scriptError) throw scriptError;
    if (waitError) throw waitError;
    if (typeof acked !== "number" || acked < ack.replicas) {
      throw new Error(`the write was not confirmed by ${ack.replicas} replica(s) within ${ack.timeoutMs} ms (${String(acked)} did)`);
    }
    return reply;
  };
}

// Digests are made here, not with the scripts: the edge entry runs them too, without Node's crypto.
function scriptDigests(): (script: LuaScript) => string {
  const digests = new Map<LuaScript, string>();
  return (script) => {
    let digest = digests.get(script);
    if (digest === undefined) digests.set(script, (digest = createHash("sha1").update(script.source).digest("hex")));
    return digest;
  };
}
