/**
 * The stop of a loop that sleeps between rounds (a job set's lease loop): it
 * ends the sleep at once and tells the loop to finish. An AbortController
 * would do, but at one loop per job set its EventTarget (about a kilobyte
 * each) and the listener and promise that `timers/promises` makes for every
 * sleep are most of what ten thousand idle job sets allocate.
 */
export interface LoopStop {
  readonly stopped: boolean;
  /** Resolves after `ms`, or as soon as the loop is stopped (at once if it is). */
  sleep(ms: number): Promise<void>;
  stop(): void;
}

export function createLoopStop(): LoopStop {
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const awake = (): void => {
    const resume = wake;
    timer = undefined;
    wake = undefined;
    resume?.();
  };
  // A data property, not a getter: an object literal with a getter is a dictionary-mode object, one per job set.
  const loop: { stopped: boolean } & Omit<LoopStop, "stopped"> = {
    stopped: false,
    sleep(ms) {
      if (loop.stopped) return Promise.resolve();
      // One sleep at a time: the loop awaits each before it starts the next.
      return new Promise<void>((resolve) => {
        wake = resolve;
        timer = setTimeout(awake, ms);
      });
    },
    stop() {
      loop.stopped = true;
      clearTimeout(timer);
      awake();
    },
  };
  return loop;
}
