/**
 * A replica in its own process, for tests that kill it with SIGKILL: follows
 * one job set (from the JSON in argv[2]) and prints "following" once its
 * first call has answered, then keeps asking so the subscription stays alive.
 */
import { createLogger } from "../../src/observability/logger.js";
import { createMetricsRegistry } from "../../src/observability/metrics.js";
import { openStore, type StoreSpec } from "../../src/store/open.js";
import { createSubscriber, type SubscriberOptions } from "../../src/subscriber/index.js";
import type { JobKey } from "../../src/store/store.js";

interface ReplicaArgs {
  readonly store: StoreSpec;
  readonly options: SubscriberOptions;
  readonly key: JobKey;
}

const args = JSON.parse(process.argv[2] ?? "{}") as ReplicaArgs;
const logger = createLogger("silent");
const store = openStore(args.store, { ttlSeconds: 600, logger });
const subscriber = createSubscriber(args.options, { store, logger, metrics: createMetricsRegistry({ processMetrics: false }) });
const answer = await subscriber.status(args.key, { signal: AbortSignal.timeout(10_000) });
process.stdout.write(`following ${answer.state}\n`);
setInterval(() => void subscriber.status(args.key, { signal: AbortSignal.timeout(10_000) }), 100);
