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
  return (next) => async (request) => {
    const method = request.method.name;
    const stop = duration.startTimer({ method });
    try {
      const response = await next(request);
      calls.inc({ method, code: "ok" });
      return response;
    } catch (error) {
      calls.inc({ method, code: Code[ConnectError.from(error).code] ?? "unknown" });
      throw error;
    } finally {
      stop();
    }
  };
}
