// Compares the service's answers with the simulator's ground truth: a poller
// that asks all the time while a fault lasts, and full passes over every job
// once it is over.
import type { BulkJob, BulkLoad } from "../src/simulator/index.js";

const STATE_OF_OUTCOME: Readonly<Record<string, string>> = { succeeded: "SUCCEEDED", failed: "FAILED", cancelled: "CANCELLED" };
const TERMINAL: ReadonlySet<string> = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "DUPLICATE_FOUND"]);
const PATH = "/jobservice.JobService/GetJobStatus";

/** One answer as the judge sees it: a state name, or why there was none. */
export type Answer = { readonly state: string } | { readonly unanswered: string };

export async function ask(baseUrl: string, job: BulkJob, timeoutMs: number): Promise<Answer> {
  try {
    const response = await fetch(baseUrl + PATH, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ queue: job.queue, jobSetId: job.jobSetId, jobId: job.jobId }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await response.json()) as { state?: string; code?: string };
    if (!response.ok) return { unanswered: body.code ?? `http ${response.status}` };
    return { state: body.state ?? "SUBMITTED" };
  } catch (err) {
    return { unanswered: err instanceof Error && err.name === "TimeoutError" ? "timeout" : "unreachable" };
  }
}

export function truthOf(job: BulkJob): string {
  return STATE_OF_OUTCOME[job.outcome.state] ?? job.outcome.state.toUpperCase();
}

export interface PollerReport {
  readonly answers: number;
  /** A terminal state other than the true one, or JOB_ID_NOT_FOUND for a job Armada has. */
  readonly wrong: number;
  /** When each wrong answer's call was sent (ms since the epoch), to set apart those inside an allowed window. */
  readonly wrongAt: readonly number[];
  /** The first wrong answers, with when their calls were sent. */
  readonly examples: readonly { readonly at: number; readonly text: string }[];
  /** Calls without an answer, by reason (unavailable, timeout, unreachable, …): allowed while a fault lasts. */
  readonly unanswered: Readonly<Record<string, number>>;
}

export interface Poller {
  stop(): Promise<PollerReport>;
}

/**
 * Asks about the load's jobs round robin, `concurrency` calls at a time, over
 * every URL in turn, until stopped. JOB_ID_NOT_FOUND counts as wrong for a job
 * whose first event was in Armada's log `notFoundGraceMs` before the call:
 * a live cache is always a little behind the log it follows.
 */
export function startPoller(urls: () => readonly string[], load: BulkLoad, options: { concurrency: number; notFoundGraceMs: number }): Poller {
  const appendedAt = new Map<string, number>();
  let answers = 0;
  let wrong = 0;
  const wrongAt: number[] = [];
  const examples: { at: number; text: string }[] = [];
  const unanswered: Record<string, number> = {};
  let running = true;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (running) {
      const job = load.jobs[next++ % load.jobs.length]!;
      const targets = urls();
      const url = targets[next % targets.length]!;
      if (!appendedAt.has(job.jobId) && load.appended(job.jobId)) appendedAt.set(job.jobId, Date.now());
      const known = appendedAt.get(job.jobId);
      const sentAt = Date.now();
      const answer = await ask(url, job, 3_000);
      if ("unanswered" in answer) {
        unanswered[answer.unanswered] = (unanswered[answer.unanswered] ?? 0) + 1;
        if (answer.unanswered === "unreachable") await new Promise((resolve) => setTimeout(resolve, 20));
        continue;
      }
      answers++;
      const truth = truthOf(job);
      const notFoundLie = answer.state === "JOB_ID_NOT_FOUND" && known !== undefined && sentAt - known >= options.notFoundGraceMs;
      if (notFoundLie || (TERMINAL.has(answer.state) && answer.state !== truth)) {
        wrong++;
        wrongAt.push(sentAt);
        if (examples.length < 100) examples.push({ at: sentAt, text: `${job.jobSetId}/${job.jobId}: ${answer.state}, truth ${truth}` });
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      return { answers, wrong, wrongAt, examples, unanswered };
    },
  };
}

/** Asks about every job once; the jobs whose answer is not their true final state. */
export async function mismatches(url: string, jobs: readonly BulkJob[], concurrency: number): Promise<string[]> {
  const wrong: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let job = jobs[next++]; job; job = jobs[next++]) {
        const answer = await ask(url, job, 10_000);
        const got = "state" in answer ? answer.state : answer.unanswered;
        if (got !== truthOf(job)) wrong.push(`${job.jobSetId}/${job.jobId}: ${got}, truth ${truthOf(job)}`);
      }
    }),
  );
  return wrong;
}

/**
 * Full passes over every job until one finds no mismatch or `deadlineMs`
 * passes; the last pass's mismatches and when it ended.
 */
export async function converge(url: string, jobs: readonly BulkJob[], deadlineMs: number): Promise<{ mismatches: string[]; at: number }> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const found = await mismatches(url, jobs, 16);
    if (found.length === 0 || Date.now() > deadline) return { mismatches: found, at: Date.now() };
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
