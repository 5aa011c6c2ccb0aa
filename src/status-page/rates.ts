/** A running total read at some moment (milliseconds since the epoch). */
export interface Sample {
  readonly at: number;
  readonly total: number;
}

export interface RateMeter {
  /** Adds a reading; readings more than the window older than it are forgotten. */
  add(sample: Sample): void;
  /** Per second over the readings held; undefined until they span at least `minSpanMs`. */
  perSecond(): number | undefined;
}

/**
 * A rate from a counter that is only read when someone looks: readings arrive
 * at irregular times (each status page refresh), so the rate is taken between
 * the newest reading and the oldest one at most `windowMs` before it.
 */
export function createRateMeter(windowMs: number, minSpanMs = 500): RateMeter {
  let samples: Sample[] = [];
  return {
    add(sample) {
      samples.push(sample);
      const start = sample.at - windowMs;
      samples = samples.filter((s) => s.at >= start);
    },
    perSecond() {
      const first = samples[0];
      const last = samples[samples.length - 1];
      if (!first || !last || last.at - first.at < minSpanMs) return undefined;
      // A counter only falls when the process restarted; the rate since then is unknown.
      return Math.max(0, last.total - first.total) / ((last.at - first.at) / 1000);
    },
  };
}
