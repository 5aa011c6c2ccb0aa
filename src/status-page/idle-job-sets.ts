import type { JobSetKey } from "../store/store.js";
import type { JobSetStatus } from "../subscriber/index.js";

/**
 * Job sets this replica stopped following (nobody asked about them for the
 * subscription expiry) whose data the store still holds and still answers
 * polls from: the status page lists them as idle until the store lets them go.
 */
export interface IdleJobSets {
  /** A job set whose subscription just expired, as it last was. */
  remember(jobSet: JobSetStatus): void;
  /** The store no longer holds it. */
  forget(jobSet: JobSetKey): void;
  /** The followed job sets, then the idle ones not followed again. */
  withIdle(followed: readonly JobSetStatus[]): readonly JobSetStatus[];
}

function keyOf(jobSet: JobSetKey): string {
  return JSON.stringify([jobSet.queue, jobSet.jobSetId]);
}

/**
 * `max` bounds memory (the oldest idle job set goes first); `ttlMs` is the
 * store's own TTL after the last activity, past which the data is gone
 * without asking the store.
 */
export function createIdleJobSets(options: { readonly max: number; readonly ttlMs: number; readonly now?: () => number }): IdleJobSets {
  const now = options.now ?? Date.now;
  const idle = new Map<string, JobSetStatus>();
  return {
    remember(jobSet) {
      const key = keyOf(jobSet);
      idle.delete(key);
      idle.set(key, { ...jobSet, role: "follower", idle: true, ready: true, failure: undefined });
      if (idle.size > options.max) idle.delete(idle.keys().next().value as string);
    },
    forget(jobSet) {
      idle.delete(keyOf(jobSet));
    },
    withIdle(followed) {
      if (idle.size === 0) return followed;
      const live = new Set(followed.map(keyOf));
      const at = now();
      const listed = [...followed];
      for (const [key, jobSet] of idle) {
        const lastActivity = Math.max(jobSet.lastEventAt ?? 0, jobSet.lastReadAt);
        if (live.has(key) || at - lastActivity > options.ttlMs) idle.delete(key);
        else listed.push(jobSet);
      }
      return listed;
    },
  };
}
