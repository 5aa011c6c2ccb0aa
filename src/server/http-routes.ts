import { Hono } from "hono";
import type { Registry } from "prom-client";
import { statusPageRoutes, type StatusPageDeps } from "../status-page/routes.js";
import type { Readiness } from "./readiness.js";

export interface HttpDependencies {
  readonly readiness: () => Promise<Readiness>;
  readonly metrics: Registry;
  readonly statusPage: StatusPageDeps;
  /** When given and false for a request's `authorization`, /metrics answers 401. */
  readonly metricsAuthorized?: (authorization: string | undefined) => boolean;
}

/** Plain HTTP endpoints for orchestrators and scrapers, beside the RPCs on the same port. */
export function httpRoutes(deps: HttpDependencies): Hono {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok" }));
  app.get("/readyz", async (c) => {
    const readiness = await deps.readiness();
    return c.json(readiness, readiness.ready ? 200 : 503);
  });
  app.get("/metrics", async (c) => {
    if (deps.metricsAuthorized && !deps.metricsAuthorized(c.req.header("authorization"))) {
      return c.json({ error: "metrics need authorization: Bearer <JOBSERVICE_METRICS_TOKEN>" }, 401, { "www-authenticate": 'Bearer realm="metrics"' });
    }
    return c.text(await deps.metrics.metrics(), 200, { "content-type": deps.metrics.contentType });
  });
  app.route("/", statusPageRoutes(deps.statusPage));
  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
