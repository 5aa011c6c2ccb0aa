import { Redis } from "@upstash/redis";
import { createScriptedStore } from "./scripted.js";
import type { ScriptRunner } from "./scripts.js";
import type { JobStore } from "./store.js";

const REQUEST_TIMEOUT_MS = 15_000;

/**
 * A store behind Upstash's REST API. Values are JSON text and replies are not
 * deserialised, so nothing is turned into a number or mangled on the way back.
 */
export function createUpstashStore(options: { url: string; token: string; ttlSeconds: number }): JobStore {
  const client = new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false,
    enableTelemetry: false,
    // One quick retry of a failed connection; the subscriber retries on its own terms.
    retry: { retries: 1, backoff: () => 100 },
    signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });

  // EVAL with the source every time, never EVALSHA with a fallback: a write is
  // then always exactly one HTTP request, and the source is small next to a
  // batch of jobs.
  const run: ScriptRunner = (script, keys, args) => explained(client.eval(script.source, [...keys], [...args]));

  return createScriptedStore(
    {
      run,
      ping: async () => {
        await explained(client.ping());
      },
      close: async () => undefined,
    },
    options,
  );
}

/** Upstash's errors end with the whole command, which can be a batch of thousands of jobs. */
async function explained<T>(request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`Upstash REST request failed: ${message.split(", command was:")[0]}`, { cause: error });
  }
}
