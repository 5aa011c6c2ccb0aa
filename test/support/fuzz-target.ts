import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { startSimulator, type Simulator } from "../../src/simulator/index.js";
import { runJobservice, type RunningProcess } from "./process.js";

/** `jobservice serve` in its own process, so a crash or a leak shows in it and not in the test runner. */
export interface FuzzTarget {
  readonly port: number;
  readonly url: string;
  readonly process: RunningProcess;
  /** Open file descriptors (sockets included) and resident memory of the service process, from /proc. */
  stats(): { fds: number; rssBytes: number };
  /** True while the process has not exited. */
  alive(): boolean;
  stop(): Promise<void>;
}

/** How many fuzz cases to run: a fixed, fast number in `npm test`, more with FUZZ_ITERATIONS. */
export function fuzzIterations(fallback: number): number {
  const raw = process.env.FUZZ_ITERATIONS;
  const parsed = raw === undefined ? Number.NaN : Number(raw);
  return Number.isInteger(parsed) && parsed > 0 ? parsed : fallback;
}

/** The seed of the fuzz cases: fixed unless FUZZ_SEED says otherwise, and printed so a failure can be replayed. */
export function fuzzSeed(): number {
  const parsed = Number(process.env.FUZZ_SEED);
  return Number.isInteger(parsed) ? parsed : 20_241_122;
}

export async function startFuzzTarget(settings: Record<string, string>): Promise<FuzzTarget & { readonly sim: Simulator }> {
  const sim = await startSimulator({ queues: ["q"] });
  const service = runJobservice(["serve", "--port", "0", "--host", "127.0.0.1"], {
    ARMADA_URL: sim.url,
    JOBSERVICE_CATCH_UP_WAIT_MS: "2000",
    ...settings,
  });
  let port: number;
  try {
    port = Number((await service.waitForLog((line) => line.msg === "listening")).port);
  } catch (error) {
    service.child.kill("SIGKILL");
    await sim.close();
    throw error;
  }
  const pid = service.child.pid as number;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    process: service,
    sim,
    stats: () => ({
      fds: readdirSync(`/proc/${pid}/fd`).length,
      rssBytes: Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) * 1024,
    }),
    alive: () => service.child.exitCode === null && service.child.signalCode === null,
    stop: async () => {
      if (service.child.exitCode === null) {
        service.child.kill("SIGTERM");
        await service.exited;
      }
      await sim.close();
    },
  };
}

export interface RawExchange {
  /** Everything the server sent before it closed or the wait ended. */
  readonly received: Buffer;
  /** True when the server closed the connection (or reset it) within the wait. */
  readonly closedByServer: boolean;
}

/**
 * Writes `chunks` to a fresh TCP connection (each after `gapMs`), then waits
 * up to `waitMs` for the server to close it, collecting what it sends.
 */
export function rawExchange(port: number, chunks: readonly Buffer[], options: { gapMs?: number; waitMs: number; endAfter?: boolean }): Promise<RawExchange> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const socket = net.connect(port, "127.0.0.1");
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ received: Buffer.concat(received), closedByServer });
    };
    socket.on("data", (chunk: Buffer) => received.push(chunk));
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    const send = async (): Promise<void> => {
      for (const chunk of chunks) {
        if (done) return;
        socket.write(chunk);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
      if (options.endAfter) socket.end();
      timer = setTimeout(() => finish(false), options.waitMs);
    };
    socket.on("connect", () => void send());
  });
}
