import { Redis } from "@upstash/redis";
import { redactUrl } from "../observability/redact-url.js";
import { createScriptedStore } from "./scripted.js";
import type { ScriptRunner } from "./scripts.js";
import type { JobStore } from "./store.js";

const REQUEST_TIMEOUT_MS = 15_000;
// 429, 5xx and timeouts are retried: 6 attempts, 50 ms doubling to at most 1 s
// between them, with jitter, so a burst of rate limiting or a gateway restart
// costs a few seconds at worst before the caller hears of it.
const ATTEMPTS = 6;
const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1_000;

/** Redis's own refusals and a wrong token: asking again gives the same answer. */
const PERMANENT = /^(Command failed: )?(Unauthorized|WRONGTYPE|NOSCRIPT|NOPERM|WRONGPASS|ERR (?!max (requests|concurrent|daily|request)|.*limit exceeded))/i;

/**
 * A store behind Upstash's REST API. Values are JSON text and replies are not
 * deserialised, so nothing is turned into a number or mangled on the way back.
 */
export function createUpstashStore(options: { url: string; token: string; ttlSeconds: number }): JobStore {
  const where = redactUrl(options.url);
  const client = new Redis({
    url: options.url,
    token: options.token,
    automaticDeserialization: false,
    enableTelemetry: false,
    // The client library retries only failed connections; this adapter retries every transient failure itself.
    retry: false,
    signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });

  // EVAL with the source every time, never EVALSHA with a fallback: a write is
  // then always exactly one HTTP request, and the source is small next to a
  // batch of jobs. A write retried after its answer was lost is safe: its
  // guard refuses it once the first attempt was applied.
  const run: ScriptRunner = (script, keys, args) => retried(where, () => client.eval(script.source, [...keys], [...args]));

  return createScriptedStore(
    {
      run,
      ping: async () => {
        await retried(where, () => client.ping());
      },
      close: async () => undefined,
    },
    options,
  );
}

/** Upstash's errors end with the whole command, which can be a batch of thousands of jobs. */
function reasonOf(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split(", command was:")[0] ?? message;
}

async function retried<T>(where: string, request: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await request();
    } catch (error) {
      const reason = reasonOf(error);
      if (attempt >= ATTEMPTS || PERMANENT.test(reason)) {
        const tries = attempt > 1 ? ` (after ${attempt} attempts)` : "";
        throw new Error(`Upstash REST store at ${where}: request failed${tries}: ${reason}`, { cause: error });
      }
      const ceiling = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, ceiling / 2 + (Math.random() * ceiling) / 2));
    }
  }
}
