import type { ConnectError } from "@connectrpc/connect";
import type { JobSetKey } from "../store/store.js";

/** One open GetJobSetEvents stream, as the fault controller and the handler see it. */
export interface OpenStream {
  /** Aborted when the client goes away or a fault drops the stream; the reason is the error to end with. */
  readonly signal: AbortSignal;
  /** Marks that the job set has new events. */
  wake(): void;
  /** Resolves at the next wake (at once if one came since the last call); rejects when `signal` aborts. */
  nextWake(): Promise<void>;
  close(): void;
}

export interface StreamRegistry {
  open(key: JobSetKey, callSignal: AbortSignal): OpenStream;
  count(filter?: Partial<JobSetKey>): number;
  /** Ends every open stream with `error`; returns how many there were. */
  dropAll(error: ConnectError): number;
}

interface Entry {
  readonly key: JobSetKey;
  readonly controller: AbortController;
}

export function createStreamRegistry(): StreamRegistry {
  const open = new Set<Entry>();
  return {
    open(key, callSignal) {
      const controller = new AbortController();
      const entry: Entry = { key, controller };
      const onCallAbort = (): void => controller.abort(callSignal.reason);
      if (callSignal.aborted) onCallAbort();
      else callSignal.addEventListener("abort", onCallAbort, { once: true });
      open.add(entry);
      let woken = false;
      let resolveWake: (() => void) | undefined;
      return {
        signal: controller.signal,
        wake() {
          woken = true;
          resolveWake?.();
        },
        nextWake() {
          if (controller.signal.aborted) return Promise.reject(controller.signal.reason);
          if (woken) {
            woken = false;
            return Promise.resolve();
          }
          return new Promise<void>((resolve, reject) => {
            const onAbort = (): void => reject(controller.signal.reason);
            controller.signal.addEventListener("abort", onAbort, { once: true });
            resolveWake = () => {
              woken = false;
              resolveWake = undefined;
              controller.signal.removeEventListener("abort", onAbort);
              resolve();
            };
          });
        },
        close() {
          callSignal.removeEventListener("abort", onCallAbort);
          open.delete(entry);
        },
      };
    },
    count: (filter) =>
      [...open].filter(
        ({ key }) => (filter?.queue === undefined || key.queue === filter.queue) && (filter?.jobSetId === undefined || key.jobSetId === filter.jobSetId),
      ).length,
    dropAll(error) {
      const entries = [...open];
      for (const entry of entries) {
        open.delete(entry);
        entry.controller.abort(error);
      }
      return entries.length;
    },
  };
}
