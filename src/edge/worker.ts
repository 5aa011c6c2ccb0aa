import { createUpstashStore } from "../store/upstash.js";
import { createEdgeHandler, type EdgeHandler } from "./app.js";
import { edgeCallerCheck, type Vars } from "./caller-check.js";

interface RuntimeGlobals {
  readonly Deno?: { readonly env: { toObject(): Record<string, string> } };
  readonly process?: { readonly env: Vars };
}

function environment(): Vars {
  const runtime = globalThis as RuntimeGlobals;
  return runtime.Deno?.env.toObject() ?? runtime.process?.env ?? {};
}

function positive(vars: Vars, name: string, fallback: number): number {
  const text = vars[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name}: expected a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

function handlerFor(vars: Vars): EdgeHandler {
  const url = vars.UPSTASH_REDIS_REST_URL;
  const token = vars.UPSTASH_REDIS_REST_TOKEN;
  if (!url || !token) throw new Error("UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN are required: the store a full job service writes");
  const callerCheck = edgeCallerCheck(vars);
  return createEdgeHandler({
    // The edge never writes, so the time to live it would give data is unused.
    store: createUpstashStore({ url, token, ttlSeconds: 86_400 }),
    maxBatchIds: positive(vars, "JOBSERVICE_MAX_BATCH_IDS", 1_000),
    staleAfterMs: positive(vars, "JOBSERVICE_EDGE_STALE_AFTER_MS", 300_000),
    ...(callerCheck && { callerCheck }),
  });
}

let handler: EdgeHandler | undefined;

/**
 * The deployable module: `deno serve`, Bun and Cloudflare Workers all call
 * its `fetch`. Settings come from the Worker's bindings or the environment,
 * and are checked on the first request (naming the bad setting).
 */
export default {
  fetch(request: Request, bindings?: Vars): Promise<Response> {
    handler ??= handlerFor(bindings && Object.keys(bindings).length > 0 ? bindings : environment());
    return handler.fetch(request);
  },
};
