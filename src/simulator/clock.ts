/**
 * Time as the simulator sees it. Lifecycles, message ids and timestamps all go
 * through a Clock so tests can run them on a manual clock, step by step and
 * reproducibly, or on the system clock with durations of a few milliseconds.
 */
export interface Clock {
  now(): number;
  /** Runs `fn` once, `ms` from now; the returned function cancels it. */
  schedule(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  schedule: (ms, fn) => {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
};

export interface ManualClock extends Clock {
  /** Moves time forward, firing due timers in deadline order (ties: scheduling order). */
  advance(ms: number): void;
  /** Fires every pending timer, including ones they schedule, up to `maxTimers`. */
  runAll(maxTimers?: number): void;
  pendingTimers(): number;
}

interface PendingTimer {
  readonly at: number;
  readonly order: number;
  readonly fn: () => void;
}

export function createManualClock(startMs = Date.UTC(2026, 0, 1)): ManualClock {
  let now = startMs;
  let order = 0;
  const timers = new Set<PendingTimer>();
  const nextDue = (limit: number): PendingTimer | undefined => {
    let best: PendingTimer | undefined;
    for (const timer of timers) {
      if (timer.at > limit) continue;
      if (!best || timer.at < best.at || (timer.at === best.at && timer.order < best.order)) best = timer;
    }
    return best;
  };
  const fire = (timer: PendingTimer): void => {
    timers.delete(timer);
    now = Math.max(now, timer.at);
    timer.fn();
  };
  return {
    now: () => now,
    schedule: (ms, fn) => {
      const timer = { at: now + Math.max(0, ms), order: order++, fn };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    advance: (ms) => {
      const target = now + ms;
      for (let due = nextDue(target); due; due = nextDue(target)) fire(due);
      now = target;
    },
    runAll: (maxTimers = 1_000_000) => {
      for (let fired = 0; timers.size > 0; fired++) {
        if (fired >= maxTimers) throw new RangeError(`runAll: more than ${maxTimers} timers fired`);
        const due = nextDue(Number.POSITIVE_INFINITY);
        if (due) fire(due);
      }
    },
    pendingTimers: () => timers.size,
  };
}
