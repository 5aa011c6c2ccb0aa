import type { Http2Session } from "node:http2";
import type { Http2Bindings } from "@hono/node-server";
import { ConnectError, type Code } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import { Hono, type Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { Credential } from "./access.js";
import type { Armada } from "./armada.js";
import { parseCode, type Faults } from "./faults.js";
import type { Observations } from "./observations.js";
import type { StreamRegistry } from "./streams.js";

export interface ControlDeps {
  readonly armada: Armada;
  readonly faults: Faults;
  readonly observations: Observations;
  readonly streams: StreamRegistry;
  /** Destroys every HTTP/2 session but `except` (the control request's own). */
  readonly disconnect: (except?: Http2Session) => number;
}

class BadRequest extends Error {}

/**
 * The fault and inspection surface, served on the gRPC port for every path
 * that is not an RPC (h2c: `curl --http2-prior-knowledge`). JSON in, JSON out.
 */
export function controlApp(deps: ControlDeps): Hono<{ Bindings: Http2Bindings }> {
  const { armada, faults, observations, streams } = deps;
  const app = new Hono<{ Bindings: Http2Bindings }>();

  app.onError((error, c) => {
    if (error instanceof BadRequest) return c.json({ error: error.message }, 400);
    if (error instanceof ConnectError) return c.json({ error: error.rawMessage }, codeToHttpStatus(error.code) as ContentfulStatusCode);
    return c.json({ error: String(error instanceof Error ? error.message : error) }, 500);
  });

  app.get("/healthz", (c) => c.text("ok\n"));
  app.get("/control", (c) => c.json({ faults: faults.state(), queues: armada.queues(), jobSets: armada.log.jobSets().length, jobs: armada.jobs().length }));
  app.get("/control/calls", (c) => c.json({ calls: observations.calls({ method: c.req.query("method") }) }));
  app.delete("/control/calls", (c) => {
    observations.clear();
    return c.json({ cleared: true });
  });
  app.get("/control/streams", (c) => c.json({ open: streams.count({ queue: c.req.query("queue"), jobSetId: c.req.query("jobSetId") }) }));
  app.get("/control/jobs", (c) => c.json({ jobs: armada.jobs() }));
  app.post("/control/queues", async (c) => {
    const body = await jsonBody(c);
    armada.createQueue(stringField(body, "name"));
    return c.json({ created: body.name }, 201);
  });

  app.post("/control/raw-events", async (c) => {
    const body = await jsonBody(c);
    const ids = armada.appendRawEvents({ queue: stringField(body, "queue"), jobSetId: stringField(body, "jobSetId") }, base64List(body, "base64"));
    return c.json({ ids }, 201);
  });

  app.post("/control/drop-streams", async (c) => {
    const body = await jsonBody(c);
    const code = optionalCode(body, "code");
    const message = optionalString(body, "message");
    return c.json({ dropped: faults.dropStreams(code, message) });
  });
  app.post("/control/disconnect", (c) => {
    const own = c.env.incoming.stream.session;
    return c.json({ connections: deps.disconnect(own) });
  });
  app.post("/control/stall", async (c) => {
    faults.stall(numberField(await jsonBody(c), "ms"));
    return c.json(faults.state());
  });
  app.post("/control/unstall", (c) => {
    faults.unstall();
    return c.json(faults.state());
  });
  app.post("/control/refuse", async (c) => {
    const body = await jsonBody(c);
    const code = optionalCode(body, "code");
    if (code === undefined) throw new BadRequest('"code" is required, e.g. "unavailable" or 14');
    faults.refuse(numberField(body, "count"), code, { method: optionalString(body, "method"), message: optionalString(body, "message") });
    return c.json(faults.state());
  });
  app.post("/control/latency", async (c) => {
    faults.setLatency(numberField(await jsonBody(c), "ms"));
    return c.json(faults.state());
  });
  app.put("/control/auth", async (c) => {
    faults.requireAuth(credentialsField(await jsonBody(c)));
    return c.json(faults.state());
  });
  app.delete("/control/auth", (c) => {
    faults.disableAuth();
    return c.json(faults.state());
  });
  app.post("/control/reset", (c) => {
    faults.reset();
    return c.json(faults.state());
  });
  return app;
}

type Body = Record<string, unknown>;

async function jsonBody(c: Context): Promise<Body> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new BadRequest("the body is not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new BadRequest("the body must be a JSON object");
  return parsed as Body;
}

function numberField(body: Body, name: string): number {
  const value = body[name];
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) throw new BadRequest(`"${name}" must be a non-negative number`);
  return value;
}

function stringField(body: Body, name: string): string {
  const value = body[name];
  if (typeof value !== "string" || value === "") throw new BadRequest(`"${name}" must be a non-empty string`);
  return value;
}

function optionalString(body: Body, name: string): string | undefined {
  return body[name] === undefined ? undefined : stringField(body, name);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard, padded base64 only: Node's decoder would quietly drop what is not base64, and send other bytes than meant. */
function base64List(body: Body, name: string): Uint8Array[] {
  const list = body[name];
  if (!Array.isArray(list) || list.length === 0) throw new BadRequest(`"${name}" must be a non-empty array of base64 strings`);
  return list.map((item: unknown, index) => {
    if (typeof item !== "string" || !BASE64.test(item)) throw new BadRequest(`${name}[${index}] must be a padded base64 string`);
    return new Uint8Array(Buffer.from(item, "base64"));
  });
}

function optionalCode(body: Body, name: string): Code | undefined {
  const value = body[name];
  if (value === undefined) return undefined;
  const code = typeof value === "number" || typeof value === "string" ? parseCode(String(value)) : undefined;
  if (code === undefined) throw new BadRequest(`"${name}" must be a gRPC code name like "unavailable" or a number 1-16`);
  return code;
}

function credentialsField(body: Body): Credential[] {
  const list = body.credentials;
  if (!Array.isArray(list) || list.length === 0) throw new BadRequest('"credentials" must be a non-empty array');
  return list.map((item: unknown, index) => {
    if (typeof item !== "object" || item === null) throw new BadRequest(`credentials[${index}] must be an object`);
    const entry = item as Body;
    const queues = entry.queues;
    if (queues !== undefined && (!Array.isArray(queues) || !queues.every((q) => typeof q === "string"))) {
      throw new BadRequest(`credentials[${index}].queues must be an array of queue names`);
    }
    const limit = queues === undefined ? {} : { queues: queues as string[] };
    if (typeof entry.kubernetesToken === "string" && entry.kubernetesToken !== "") {
      if (entry.ca !== undefined && typeof entry.ca !== "string") throw new BadRequest(`credentials[${index}].ca must be a PEM string`);
      return { kind: "kubernetes", token: entry.kubernetesToken, ...(typeof entry.ca === "string" ? { ca: entry.ca } : {}), ...limit };
    }
    if (typeof entry.token === "string" && entry.token !== "") return { kind: "bearer", token: entry.token, ...limit };
    if (typeof entry.user === "string" && entry.user !== "" && typeof entry.password === "string") {
      return { kind: "basic", user: entry.user, password: entry.password, ...limit };
    }
    throw new BadRequest(`credentials[${index}] needs {"user","password"}, {"token"} or {"kubernetesToken"[,"ca"]}`);
  });
}
