// One replica's registry on fake time (vi.useFakeTimers), for the tests of
// the lease loop: the memory store, and an Armada whose job set has an
// empty history and a live stream that sends what the test sends, open
// until the subscription ends it.
import { pino } from "pino";
import { vi } from "vitest";
import type { ArmadaClient } from "../../src/armada/armada-client.js";
import { createConcurrencyLimit } from "../../src/armada/concurrency-limit.js";
import type { ArmadaMessage } from "../../src/armada/decode-event.js";
import { createMetricsRegistry, type Registry as MetricsRegistry } from "../../src/observability/metrics.js";
import type { JobSetKey, JobStore, Lease } from "../../src/store/store.js";
import { createSubscriberMetrics } from "../../src/subscriber/metrics.js";
import { createRegistry, type JobSetStatus, type Registry } from "../../src/subscriber/registry.js";

export const TTL_MS = 3_000;
export const RENEWAL_MS = TTL_MS / 3;
export const POLL_MS = 50;
export const JOB_SET: JobSetKey = { queue: "q", jobSetId: "nightly" };

/** Armada's event API for one job set: no history, then a live stream of what `send` is given. */
function liveOnlyArmada() {
  let open = 0;
  let opened = 0;
  let deliver: (messages: readonly ArmadaMessage[]) => void = () => undefined;
  const client: ArmadaClient = {
    async *jobSetEvents(request, signal) {
      if (!request.watch) return;
      open++;
      opened++;
      const pending: (readonly ArmadaMessage[])[] = [];
      let wake = (): void => undefined;
      deliver = (messages) => {
        pending.push(messages);
        wake();
      };
      const ended = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve(), { once: true }));
      try {
        while (!signal.aborted) {
          const next = pending.shift();
          if (next) yield next;
          else await Promise.race([ended, new Promise<void>((resolve) => (wake = resolve))]);
        }
      } finally {
        open--;
      }
    },
    healthy: async () => true,
    streamsPerConnection: () => [],
    close: () => undefined,
  };
  return { client, liveStreams: () => open, streamsOpened: () => opened, send: (messages: readonly ArmadaMessage[]) => deliver(messages) };
}

/**
 * The store as one replica reaches it: every lease call is noted, and the
 * replica can be cut off from the store, told that another replica holds the
 * lease (as after a pause longer than the lease, while another took it), or
 * have the store's answers to its renewals held back until `release()`.
 */
export function replicaView(inner: JobStore) {
  const leaseCalls: number[] = [];
  let answer: "store" | "fail" | "held elsewhere" = "store";
  let holding = false;
  const held: (() => void)[] = [];
  const store: JobStore = {
    ...inner,
    lease: async (jobSet, owner, ttlMs): Promise<Lease | undefined> => {
      leaseCalls.push(Date.now());
      if (answer === "fail") throw new Error("connect ECONNREFUSED");
      if (answer === "held elsewhere") return undefined;
      const lease = await inner.lease(jobSet, owner, ttlMs);
      if (holding) await new Promise<void>((resolve) => held.push(resolve));
      return lease;
    },
  };
  return {
    store,
    leaseCalls,
    cutOff: () => void (answer = "fail"),
    heldElsewhere: () => void (answer = "held elsewhere"),
    hold: () => void (holding = true),
    heldRenewals: () => held.length,
    release: () => {
      holding = false;
      for (const resolve of held.splice(0)) resolve();
    },
  };
}

const registries: Registry[] = [];

export interface ReplicaOptions {
  readonly expiryMs?: number;
  readonly onExpired?: (jobSet: JobSetStatus) => void;
}

export function startReplica(replicaId: string, store: JobStore, options: ReplicaOptions = {}) {
  const armada = liveOnlyArmada();
  const metrics: MetricsRegistry = createMetricsRegistry({ processMetrics: false });
  const registry = createRegistry(
    {
      replicaId,
      leaseTtlMs: TTL_MS,
      maxSubscriptions: 10,
      expiryMs: options.expiryMs ?? 3_600_000,
      followerPollMs: POLL_MS,
      onExpired: options.onExpired,
    },
    {
      client: armada.client,
      store,
      metrics: createSubscriberMetrics(metrics, () => registry.snapshot()),
      logger: pino({ level: "silent" }),
      now: () => Date.now(),
      backoff: { minMs: 100, maxMs: 1_000, slowMs: 60_000 },
      idleTimeoutMs: 3_600_000,
      batchMaxEvents: 100,
      batchMaxDelayMs: 10,
      catchUps: createConcurrencyLimit(8),
    },
  );
  registries.push(registry);
  const role = (): JobSetStatus["role"] | undefined => registry.jobSets().find((s) => s.jobSetId === JOB_SET.jobSetId)?.role;
  return { registry, metrics, role, ...armada };
}

/** Closes every replica started since the last call; in afterEach, before the real timers come back. */
export async function closeReplicas(): Promise<void> {
  await Promise.all(registries.splice(0).map((registry) => registry.close()));
}

/** Lets every timer due within `ms` fire, and what each sets off run to its next wait. */
export const pass = (ms: number): Promise<void> => vi.advanceTimersByTimeAsync(ms).then(() => undefined);
