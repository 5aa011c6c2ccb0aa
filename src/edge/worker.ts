import { defaultNumber, EDGE_SETTINGS, SETTINGS, type EdgeSettingFlag, type SettingFlag } from "../config/settings.js";
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

function positive(vars: Vars, flag: SettingFlag | EdgeSettingFlag): number {
  const name = [...SETTINGS, ...EDGE_SETTINGS].find((setting) => setting.flag === flag)?.env ?? flag;
  const text = vars[name];
  if (text === undefined || text === "") return defaultNumber(flag);
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
    store: createUpstashStore({ url, token, ttlSeconds: defaultNumber("job-ttl-seconds") }),
    maxBatchIds: positive(vars, "max-batch-ids"),
    staleAfterMs: positive(vars, "edge-stale-after-ms"),
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
