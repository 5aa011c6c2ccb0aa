import type { RecentErrors } from "../status-page/recent-errors.js";

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when the dependency answers; rejects with the reason otherwise. */
  probe(signal: AbortSignal): Promise<void>;
}

export interface Readiness {
  readonly ready: boolean;
  readonly checks: Record<string, { ok: boolean; error?: string }>;
}

/**
 * Probes every dependency at once, each within `timeoutMs`, so neither a
 * readiness probe nor a Health call can hang. Concurrent callers share one
 * round of probes, and a result is reused for `cacheMs`: a fleet of pollers
 * cannot turn health checks into load on Redis or Armada.
 */
export function createReadiness(
  checks: readonly ReadinessCheck[],
  options: { timeoutMs: number; cacheMs: number; now?: () => number },
): () => Promise<Readiness> {
  const now = options.now ?? Date.now;
  let last: { at: number; result: Promise<Readiness> } | undefined;
  return () => {
    if (last && now() - last.at < options.cacheMs) return last.result;
    last = { at: now(), result: probeAll(checks, options.timeoutMs) };
    return last.result;
  };
}

/** Records each failing check once per round of probes, not once per caller that shares the round. */
export function recordingFailures(readiness: () => Promise<Readiness>, errors: RecentErrors): () => Promise<Readiness> {
  let recorded: Promise<Readiness> | undefined;
  return () => {
    const result = readiness();
    if (result !== recorded) {
      recorded = result;
      void result.then((round) => {
        for (const [name, check] of Object.entries(round.checks)) if (!check.ok) errors.record({ source: name, message: check.error ?? "not ready" });
      });
    }
    return result;
  };
}

async function probeAll(checks: readonly ReadinessCheck[], timeoutMs: number): Promise<Readiness> {
  const results = await Promise.all(checks.map(async (check) => [check.name, await probeOne(check, timeoutMs)] as const));
  return { ready: results.every(([, result]) => result.ok), checks: Object.fromEntries(results) };
}

async function probeOne(check: ReadinessCheck, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
  });
  try {
    await Promise.race([check.probe(controller.signal), timedOut]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}
