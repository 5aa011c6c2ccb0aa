import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Histogram, type Registry } from "prom-client";

/** Counts every RPC by method and outcome and times it, for /metrics. */
export function rpcMetricsInterceptor(registry: Registry): Interceptor {
  const calls = new Counter({
    name: "jobservice_rpc_requests_total",
    help: "RPCs answered, by method and status code.",
    labelNames: ["method", "code"],
    registers: [registry],
  });
  const duration = new Histogram({
    name: "jobservice_rpc_duration_seconds",
    help: "Time to answer an RPC, by method.",
    labelNames: ["method"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  // prom-client hashes the labels of every call; the label sets are few, so their children are kept.
  const counters = new Map<string, { inc(): void }>();
  const timers = new Map<string, { observe(seconds: number): void }>();
  const count = (method: string, code: string): void => {
    const key = `${method}\u0000${code}`;
    let counter = counters.get(key);
    if (!counter) counters.set(key, (counter = calls.labels({ method, code })));
    counter.inc();
  };
  const timerOf = (method: string): { observe(seconds: number): void } => {
    let timer = timers.get(method);
    if (!timer) timers.set(method, (timer = duration.labels({ method })));
    return timer;
  };
  return (next) => async (request) => {
    const method = request.method.name;
    const started = performance.now();
    try {
      const response = await next(request);
      count(method, "ok");
      return response;
    } catch (error) {
      count(method, Code[ConnectError.from(error).code] ?? "unknown");
      throw error;
    } finally {
      timerOf(method).observe((performance.now() - started) / 1000);
    }
  };
}
