// What the services and the store say while a scenario runs: the services'
// metrics, and the cursors the store holds per job set.
import { compareMessageIds } from "../src/simulator/message-id.js";
import { jobSetKeys, RESERVED_FIELDS } from "../src/store/keys.js";
import { QUEUE, type Env } from "./env.js";
import { sleep } from "./supervision.js";

/** Events the live services have written to the store, by their own metrics. */
export function eventsWritten(env: Env): Promise<number> {
  return metricSum(env, "jobservice_store_write_batch_events_sum");
}

/** A metric without labels, summed over the live services. */
export async function metricSum(env: Env, name: string): Promise<number> {
  let total = 0;
  for (const service of env.services) {
    if (service.stopped) continue;
    const text = await fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(2_000) })
      .then((r) => r.text())
      .catch(() => "");
    total += Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  }
  return total;
}

/**
 * Waits until the services have written `fraction` of the load's events (by
 * their metrics), or, for all of it, until the store holds every job set's
 * last event id as its cursor (metrics restart with a process and miss
 * writes whose answer was lost).
 */
export async function waitForIngest(env: Env, fraction: number): Promise<void> {
  const deadline = Date.now() + env.size.convergeMs;
  while (Date.now() < deadline) {
    if (fraction >= 1 ? await storeCaughtUp(env) : (await eventsWritten(env)) >= env.load.totalEvents * fraction) return;
    await sleep(50);
  }
  env.notes.push(`ingest did not reach ${Math.round(fraction * 100)} % within ${env.size.convergeMs / 1000} s`);
}

export async function partlyStored(env: Env, jobSetIds?: readonly string[]): Promise<boolean> {
  const cursors = await storedCursors(env);
  for (const [jobSetId, cursor] of cursors) {
    if (jobSetIds && !jobSetIds.includes(jobSetId)) continue;
    if (cursor !== env.sim.events(QUEUE, jobSetId).at(-1)?.id) return true;
  }
  return false;
}

export async function storeCaughtUp(env: Env): Promise<boolean> {
  const cursors = await storedCursors(env).catch(() => new Map<string, string>());
  for (let set = 0; set < env.size.jobSets; set++) {
    const jobSetId = `${QUEUE}-${set}`;
    if (cursors.get(jobSetId) !== env.sim.events(QUEUE, jobSetId).at(-1)?.id) return false;
  }
  return true;
}

/** The stored cursor of every job set, to see which ones a restart must resume rather than replay. */
export async function storedCursors(env: Env): Promise<Map<string, string>> {
  // A cluster client is kept for the scenario: connecting to every node for each look would be too slow to watch an ingest.
  const admin = env.clusterReader ?? env.admin();
  const cursors = new Map<string, string>();
  try {
    for (let set = 0; set < env.size.jobSets; set++) {
      const jobSetId = `${QUEUE}-${set}`;
      const cursor = await admin.hget(jobSetKeys({ queue: QUEUE, jobSetId }).jobs, RESERVED_FIELDS.cursor);
      if (cursor) cursors.set(jobSetId, cursor);
    }
  } finally {
    if (admin !== env.clusterReader) admin.disconnect();
  }
  return cursors;
}

/**
 * Samples every job set's stored cursor until stopped and counts the times
 * one moved backwards (what a stale replica's write would do).
 */
export function watchCursors(env: Env): { stop(): Promise<number> } {
  let running = true;
  let regressions = 0;
  const done = (async () => {
    const highest = new Map<string, string>();
    while (running) {
      const now = await storedCursors(env).catch(() => new Map<string, string>());
      for (const [jobSetId, cursor] of now) {
        const before = highest.get(jobSetId);
        if (before !== undefined && compareMessageIds(cursor, before) < 0) regressions++;
        else highest.set(jobSetId, cursor);
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return regressions;
    },
  };
}
