import type { Redis } from "ioredis";
import { jobSetKeys } from "../../src/store/keys.js";
import type { JobSetKey, JobStore } from "../../src/store/store.js";
import type { StoreUnderTest } from "./contract.js";

/** A store and a second handle on its data, both from `open`, aged through `admin`. */
export function subjectOnRedis(open: () => JobStore, admin: Redis): StoreUnderTest {
  const store = open();
  const reader = open();
  return {
    store,
    reader,
    elapse: elapseInRedis(admin),
    close: async () => {
      await Promise.all([store.close(), reader.close()]);
    },
  };
}

/**
 * Makes time pass for one job set in a real Redis by taking `ms` off each of
 * its keys' remaining time to live, deleting the keys whose time runs out.
 */
export function elapseInRedis(admin: Redis): (jobSet: JobSetKey, ms: number) => Promise<void> {
  return async (jobSet, ms) => {
    const keys = jobSetKeys(jobSet);
    for (const key of [keys.jobs, keys.progress, keys.lease]) {
      const remaining = await admin.pttl(key);
      if (remaining === -2) continue;
      if (remaining === -1) throw new Error(`${key} has no time to live`);
      if (remaining - ms > 0) await admin.pexpire(key, remaining - ms);
      else await admin.del(key);
    }
  };
}
