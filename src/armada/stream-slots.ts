import type { Http2SessionManager } from "@connectrpc/connect-node";
import type { ArmadaConnection } from "./connect.js";

/** A stream slot on a pooled connection; `release` gives it back (once). */
export interface StreamSlot {
  readonly connection: ArmadaConnection;
  release(): void;
}

/** Up to `maxConnections` connections, each carrying at most its stream limit. */
export interface StreamSlots {
  /** A connection with a free stream slot: a new one while the pool is not full, else the least loaded, else wait for a slot. */
  acquire(signal: AbortSignal): Promise<StreamSlot>;
  /** Open streams per connection. */
  streamsPerConnection(): number[];
  /** Fails the waiting callers and closes every connection. */
  close(): void;
}

/** Opens a connection; `onRemoteLimit` hears the server's SETTINGS_MAX_CONCURRENT_STREAMS whenever it is (re)announced. */
export type Connect = (onRemoteLimit: (limit: number) => void) => { readonly connection: ArmadaConnection; readonly manager: Http2SessionManager };

/**
 * Streams per connection until the server says otherwise: RFC 9113 §6.5.2
 * recommends servers allow at least 100, and Node reports 100 until the
 * server's SETTINGS arrive.
 */
const ASSUMED_STREAM_LIMIT = 100;

interface Pooled {
  readonly connection: ArmadaConnection;
  readonly manager: Http2SessionManager;
  streams: number;
  /**
   * Our cap, lowered to the server's SETTINGS_MAX_CONCURRENT_STREAMS once
   * known. Node does not queue streams beyond the server's limit: the server
   * refuses them, so the pool must not exceed it.
   */
  limit: number;
}

export function createStreamSlots(connect: Connect, maxConnections: number, maxStreamsPerConnection: number): StreamSlots {
  const pool: Pooled[] = [];
  const waiting = new Set<() => void>();
  let closed = false;

  /** Lets waiting streams look for a slot again: all of them when a limit grew, the longest waiting when one slot freed. */
  function wake(): void {
    for (const resume of waiting) resume();
  }
  function wakeOne(): void {
    waiting.values().next().value?.();
  }

  function leastLoaded(): Pooled | undefined {
    let best: Pooled | undefined;
    for (const c of pool) if (c.streams < c.limit && (!best || c.streams < best.streams)) best = c;
    return best;
  }

  function slotOn(pooled: Pooled): StreamSlot {
    let held = true;
    return {
      connection: pooled.connection,
      release() {
        if (!held) return;
        held = false;
        pooled.streams--;
        wakeOne();
      },
    };
  }

  return {
    async acquire(signal) {
      for (;;) {
        if (closed) throw new Error("the connections to Armada are closed");
        signal.throwIfAborted();
        // Fill the pool before stacking streams: spread evenly, the least loaded connection first.
        const free = pool.length < maxConnections ? undefined : leastLoaded();
        if (free) {
          free.streams++;
          return slotOn(free);
        }
        if (pool.length < maxConnections) {
          const pooled: Pooled = {
            ...connect((remote) => {
              pooled.limit = Math.max(1, Math.min(maxStreamsPerConnection, remote));
              wake();
            }),
            streams: 1,
            limit: Math.min(maxStreamsPerConnection, ASSUMED_STREAM_LIMIT),
          };
          pool.push(pooled);
          return slotOn(pooled);
        }
        await new Promise<void>((resolve) => {
          const resume = (): void => {
            signal.removeEventListener("abort", resume);
            waiting.delete(resume);
            resolve();
          };
          waiting.add(resume);
          signal.addEventListener("abort", resume, { once: true });
        });
      }
    },
    streamsPerConnection: () => pool.map((c) => c.streams),
    close() {
      closed = true;
      wake();
      for (const c of pool) c.manager.abort();
    },
  };
}
