import { Code, ConnectError } from "@connectrpc/connect";
import type { JobStatusSource } from "../answers/answer.js";
import type { JobSetKey, JobSetLookup, JobSetProgress } from "../store/store.js";
import type { WriteNotices } from "./write-notices.js";

export interface WatchHubOptions {
  readonly source: JobStatusSource;
  /** This process's own writes; without them changes are found by polling alone. */
  readonly notices?: WriteNotices;
  /** How often each watched job set's progress is read for changes another replica wrote. */
  readonly pollMs: number;
  /** Most watches this process serves at once. */
  readonly maxWatches: number;
}

export interface WatchHub {
  /**
   * The job set's jobs (the listed ids, or all) and progress at once, then
   * again after every change, until `signal` aborts. A consumer slower than
   * the changes gets the latest view, never an older one after a newer.
   * Throws RESOURCE_EXHAUSTED when `maxWatches` are open.
   */
  views(jobSet: JobSetKey, jobIds: readonly string[] | undefined, signal: AbortSignal): AsyncIterable<JobSetLookup>;
  /** Watches open now. */
  active(): number;
  close(): void;
}

interface Member {
  /** undefined: every job of the job set. */
  readonly jobIds: readonly string[] | undefined;
  /** The member has had no view yet. */
  fresh: boolean;
  deliver(view: JobSetLookup): void;
  fail(error: unknown): void;
}

/**
 * All watches of one job set share its reads: one read at a time, each
 * started after the change it looks for was stored, so views only move
 * forward (the store is linearizable per job set).
 */
interface Group {
  readonly jobSet: JobSetKey;
  readonly members: Set<Member>;
  readonly stop: AbortController;
  reading: boolean;
  /** Something arrived while reading (a change or a new member): read again. */
  again: boolean;
  /** The job set changed since every member was last told. */
  changed: boolean;
  /** Progress of the last view delivered to every member. */
  seen: string | undefined;
}

/** Watchers told per turn of the event loop. */
const FAN_OUT_SLICE = 250;

function groupKey(jobSet: JobSetKey): string {
  return JSON.stringify([jobSet.queue, jobSet.jobSetId]);
}

/** Every write changes `updatedAt`, and any change of health changes the rest. */
function signature(progress: JobSetProgress | undefined): string {
  return progress === undefined ? "" : `${progress.updatedAt}|${progress.cursor}|${progress.caughtUp}|${progress.error}`;
}

/** The ids the members want, or undefined when one wants them all. */
function idsToRead(members: readonly Member[]): string[] | undefined {
  const ids = new Set<string>();
  for (const member of members) {
    if (member.jobIds === undefined) return undefined;
    for (const id of member.jobIds) ids.add(id);
  }
  return [...ids];
}

/**
 * Watches share reads per job set and learn about changes two ways: this
 * process's own writes announce themselves (a job set this replica follows
 * is seen within one store read of its write), and every watched job set's
 * progress is polled every `pollMs` for what other replicas wrote.
 */
export function createWatchHub(options: WatchHubOptions): WatchHub {
  const groups = new Map<string, Group>();
  let open = 0;

  /**
   * Reads until nothing is pending. A change (a write or a poll that saw
   * one) reads every member's jobs and tells every member; members that only
   * joined get a read of their own jobs, so thousands of watchers joining one
   * job set do not each re-read all the others' jobs. If such a read finds
   * the job set moved on, a full read follows, so nobody misses the change.
   */
  async function refresh(group: Group, changed: boolean): Promise<void> {
    if (changed) group.changed = true;
    if (group.reading) {
      group.again = true;
      return;
    }
    group.reading = true;
    try {
      do {
        group.again = false;
        const everyone = group.changed || group.seen === undefined;
        group.changed = false;
        const members = [...group.members].filter((member) => everyone || member.fresh);
        if (members.length === 0) continue;
        let view: JobSetLookup;
        try {
          view = await options.source.lookup(group.jobSet, idsToRead(members), group.stop);
        } catch (error) {
          // A member still waiting for its first view hears why; the others
          // keep their last view and the next change or poll tries again.
          for (const member of members) if (member.fresh) member.fail(error);
          continue;
        }
        const seen = signature(view.progress);
        if (everyone) group.seen = seen;
        else if (seen !== group.seen) {
          group.changed = true;
          group.again = true;
        }
        for (let i = 0; i < members.length; i++) {
          const member = members[i] as Member;
          member.fresh = false;
          member.deliver(view);
          // Each delivery sets off a response write; letting I/O run between
          // slices gets the first watchers their answer before the last are served.
          if ((i + 1) % FAN_OUT_SLICE === 0) await new Promise((resolve) => setTimeout(resolve, 0));
        }
      } while (group.again);
    } finally {
      group.reading = false;
    }
  }

  /** A poll reads the progress alone and the jobs only when it moved. */
  async function poll(group: Group): Promise<void> {
    if (group.reading) return;
    try {
      const { progress } = await options.source.lookup(group.jobSet, [], group.stop);
      if (signature(progress) !== group.seen) await refresh(group, true);
    } catch {
      // The next poll tries again; watchers keep their last view meanwhile.
    }
  }

  const unlisten = options.notices?.listen((jobSet) => {
    const group = groups.get(groupKey(jobSet));
    if (group) void refresh(group, true);
  });
  const timer = setInterval(() => {
    for (const group of groups.values()) void poll(group);
  }, options.pollMs);
  timer.unref();

  function join(jobSet: JobSetKey, member: Member): () => void {
    const key = groupKey(jobSet);
    let group = groups.get(key);
    if (!group) {
      group = { jobSet, members: new Set(), stop: new AbortController(), reading: false, again: false, changed: false, seen: undefined };
      groups.set(key, group);
    }
    group.members.add(member);
    void refresh(group, false);
    const joined = group;
    return () => {
      joined.members.delete(member);
      if (joined.members.size === 0 && groups.get(key) === joined) {
        groups.delete(key);
        joined.stop.abort();
      }
    };
  }

  return {
    views(jobSet, jobIds, signal) {
      if (open >= options.maxWatches) {
        throw new ConnectError(
          `this replica already serves its limit of ${options.maxWatches} watches (JOBSERVICE_MAX_WATCHES); retry later or on another replica`,
          Code.ResourceExhausted,
        );
      }
      open++;
      let latest: JobSetLookup | undefined;
      let failure: { error: unknown } | undefined;
      let wake: (() => void) | undefined;
      const poke = (): void => {
        wake?.();
        wake = undefined;
      };
      const member: Member = {
        jobIds,
        fresh: true,
        deliver(view) {
          latest = view;
          poke();
        },
        fail(error) {
          failure = { error };
          poke();
        },
      };
      const leave = join(jobSet, member);
      signal.addEventListener("abort", poke, { once: true });
      async function* stream(): AsyncGenerator<JobSetLookup> {
        try {
          while (!signal.aborted) {
            if (failure) throw failure.error;
            if (latest) {
              const view = latest;
              latest = undefined;
              yield view;
              continue;
            }
            await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          signal.removeEventListener("abort", poke);
          leave();
          open--;
        }
      }
      return stream();
    },
    active: () => open,
    close() {
      clearInterval(timer);
      unlisten?.();
      for (const group of groups.values()) group.stop.abort();
    },
  };
}
