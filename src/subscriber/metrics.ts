import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** A point-in-time view of the subscriptions, read at each scrape. */
export interface SubscriptionSnapshot {
  /** Job sets this replica follows (holds the lease for) and job sets it only answers from the store. */
  readonly owned: number;
  readonly followed: number;
  /** Failing subscriptions by reason (a gRPC code name or "store"). */
  readonly failing: ReadonlyMap<string, number>;
  /** Seconds since the last event of each owned job set that has had one. */
  readonly secondsSinceLastEvent: readonly number[];
}

export interface SubscriberMetrics {
  readonly eventsApplied: Counter<"type">;
  readonly batchWriteSeconds: Histogram;
  readonly batchEvents: Histogram;
  readonly storeWriteFailures: Counter;
  readonly storeLosses: Counter;
  readonly storeRollbacks: Counter;
  readonly reconnects: Counter<"reason">;
  readonly undecodableEvents: Counter;
  readonly catchUpSeconds: Histogram;
  readonly catchUpEvents: Histogram;
}

/** Registers the subscriber's metrics on the service's registry. */
export function createSubscriberMetrics(registry: Registry, snapshot: () => SubscriptionSnapshot): SubscriberMetrics {
  const registers = [registry];
  new Gauge({
    name: "jobservice_subscriptions_active",
    help: "Job sets with a subscription in this replica: owner streams from Armada, follower reads the store another replica fills",
    labelNames: ["role"],
    registers,
    collect() {
      const s = snapshot();
      this.reset();
      this.set({ role: "owner" }, s.owned);
      this.set({ role: "follower" }, s.followed);
    },
  });
  new Gauge({
    name: "jobservice_subscriptions_failing",
    help: "Owned subscriptions whose Armada stream is currently failing, by reason",
    labelNames: ["reason"],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of snapshot().failing) this.set({ reason }, count);
    },
  });
  // Rebuilt at each scrape: the current distribution, not a running total.
  new Histogram({
    name: "jobservice_job_set_seconds_since_last_event",
    help: "Seconds since each owned job set's last Armada event, as a distribution at scrape time",
    buckets: [1, 10, 30, 60, 300, 900, 3600, 14400, 86400],
    registers,
    collect() {
      this.reset();
      for (const seconds of snapshot().secondsSinceLastEvent) this.observe(seconds);
    },
  });
  return {
    eventsApplied: new Counter({
      name: "jobservice_events_applied_total",
      help: "Armada events that changed a job's record, by event type",
      labelNames: ["type"],
      registers,
    }),
    batchWriteSeconds: new Histogram({
      name: "jobservice_store_write_batch_seconds",
      help: "Latency of one atomic store write of a batch of job updates and its cursor",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    batchEvents: new Histogram({
      name: "jobservice_store_write_batch_events",
      help: "Armada events per store write batch",
      buckets: [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers,
    }),
    storeWriteFailures: new Counter({
      name: "jobservice_store_write_failures_total",
      help: "Store writes of a batch that failed (the events are read again from Armada)",
      registers,
    }),
    storeLosses: new Counter({
      name: "jobservice_store_job_set_losses_total",
      help: "Job sets found gone from the store after this replica had written them (eviction, flush, restart), each rebuilt from Armada's history",
      registers,
    }),
    storeRollbacks: new Counter({
      name: "jobservice_store_job_set_rollbacks_total",
      help: "Job sets found older in the store than this replica had written them (a replica promoted behind its master, a restart from an older snapshot), each caught up again from the older cursor",
      registers,
    }),
    reconnects: new Counter({
      name: "jobservice_armada_reconnects_total",
      help: "Armada event streams reopened, by reason (a gRPC code name, idle, store, stale, fenced or store-lost)",
      labelNames: ["reason"],
      registers,
    }),
    undecodableEvents: new Counter({
      name: "jobservice_armada_undecodable_events_total",
      help: "Messages on Armada's event streams that are not valid protobuf, skipped (the stream goes on past them; the jobs they were about keep their earlier state)",
      registers,
    }),
    catchUpSeconds: new Histogram({
      name: "jobservice_catch_up_seconds",
      help: "Time from opening a job set's stream to having applied the history that existed then",
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    catchUpEvents: new Histogram({
      name: "jobservice_catch_up_events",
      help: "Events replayed to catch up a job set: how far behind the stored cursor was",
      buckets: [0, 1, 10, 100, 1000, 10000, 100000],
      registers,
    }),
  };
}
