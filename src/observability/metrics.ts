import { Registry, collectDefaultMetrics } from "prom-client";

/**
 * One registry per service instance (not prom-client's global one), so tests
 * can run several instances in one process without their series colliding.
 * Modules register their own metrics on the registry they are given.
 */
export function createMetricsRegistry(options: { processMetrics: boolean }): Registry {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry, prefix: "jobservice_" });
  return registry;
}

export type { Registry };
