import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

/** A bench process of ours (server, simulator, ingester…) driven by JSON lines over stdin/stdout. */
export interface BenchChild<Ready> {
  readonly pid: number;
  /** What the process said when it was ready (ports, keys…). */
  readonly ready: Ready;
  call<T>(command: string, args?: unknown): Promise<T>;
  /** Ends the process (closing its stdin asks it to exit; SIGKILL after a grace period). */
  stop(): Promise<void>;
}

interface Reply {
  readonly id?: number;
  readonly ready?: unknown;
  readonly result?: unknown;
  readonly error?: string;
}

const READY_TIMEOUT_MS = 60_000;
// `BENCH_CPU_PROF_DIR=/tmp/prof npm run bench …` profiles every bench process: one .cpuprofile each, named with its pid.
const PROFILE_DIR = process.env.BENCH_CPU_PROF_DIR;
const PROFILING = PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [];
const STOP_GRACE_MS = 5_000;
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Path of a script under bench/processes, from any bench module. */
export function processScript(name: string): string {
  return fileURLToPath(new URL(`../processes/${name}.ts`, import.meta.url));
}

/**
 * How a bench process runs: from the TypeScript sources through tsx (the
 * default), or bundled as the image and the single binary ship the service
 * (esbuild, dependencies left to node_modules) on Node or on Bun. tsx keeps
 * every function's name with a helper that gives each closure its own
 * property store, which costs memory the shipped build does not pay, so
 * memory and ingest are measured on the bundle.
 */
export type Runtime = "tsx" | "node" | "bun";

const BUNDLE_DIR = fileURLToPath(new URL("../.bundles/", import.meta.url));
const BUN = fileURLToPath(new URL("../../node_modules/.bin/bun", import.meta.url));
const bundles = new Map<string, Promise<string>>();

/** The script bundled once per run, beside the bench so that its dependencies resolve from node_modules. */
function bundled(script: string): Promise<string> {
  let bundle = bundles.get(script);
  if (!bundle) {
    const outfile = join(BUNDLE_DIR, `${basename(script, ".ts")}.mjs`);
    bundle = build({
      entryPoints: [script],
      bundle: true,
      platform: "node",
      target: "node20",
      format: "esm",
      packages: "external",
      outfile,
      logLevel: "warning",
    }).then(() => outfile);
    bundles.set(script, bundle);
  }
  return bundle;
}

async function commandLine(runtime: Runtime, script: string, nodeArgs: readonly string[]): Promise<{ command: string; args: string[] }> {
  if (runtime === "tsx") return { command: process.execPath, args: [...PROFILING, ...nodeArgs, "--import", "tsx", script] };
  const bundle = await bundled(script);
  if (runtime === "node") return { command: process.execPath, args: [...PROFILING, ...nodeArgs, bundle] };
  return { command: BUN, args: [bundle] };
}

/**
 * Starts `script` (see Runtime) with its JSON options as the argument and
 * resolves once its first stdout line says it is ready. Each bench process gets its own event
 * loop, so a load generator never competes with the server it measures.
 */
export async function startChild<Ready>(
  script: string,
  options: unknown,
  nodeArgs: readonly string[] = [],
  runtime: Runtime = "tsx",
): Promise<BenchChild<Ready>> {
  const { command, args } = await commandLine(runtime, script, nodeArgs);
  const child = spawn(command, [...args, JSON.stringify(options)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  if (PROFILE_DIR) process.stderr.write(`profiling ${script} (pid ${child.pid}) into ${PROFILE_DIR}\n`);
  live.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let nextId = 1;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", (code, signal) => {
      live.delete(child);
      const failure = new Error(`${script} exited (${signal ?? `code ${code}`}): ${stderr.trim()}`);
      for (const waiter of pending.values()) waiter.reject(failure);
      pending.clear();
      resolve();
    });
  });

  return new Promise((resolveReady, rejectReady) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rejectReady(new Error(`${script} was not ready within ${READY_TIMEOUT_MS} ms: ${stderr.trim()}`));
    }, READY_TIMEOUT_MS);
    void exited.then(() => {
      clearTimeout(timer);
      rejectReady(new Error(`${script} exited before it was ready: ${stderr.trim()}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
      } catch {
        return; // not ours: stray output of a library
      }
      if ("ready" in reply) {
        clearTimeout(timer);
        resolveReady(handle(reply.ready as Ready));
        return;
      }
      const waiter = reply.id === undefined ? undefined : pending.get(reply.id);
      if (!waiter || reply.id === undefined) return;
      pending.delete(reply.id);
      if (reply.error !== undefined) waiter.reject(new Error(`${script}: ${reply.error}`));
      else waiter.resolve(reply.result);
    });
  });

  function handle(ready: Ready): BenchChild<Ready> {
    return {
      pid: child.pid as number,
      ready,
      call<T>(command: string, args?: unknown): Promise<T> {
        if (child.exitCode !== null || child.signalCode !== null) return Promise.reject(new Error(`${script} has exited: ${stderr.trim()}`));
        const id = nextId++;
        return new Promise<T>((resolve, reject) => {
          pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
          child.stdin?.write(`${JSON.stringify({ id, command, args })}\n`);
        });
      },
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const force = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        child.stdin?.end();
        await exited;
        clearTimeout(force);
      },
    };
  }
}

/** A `jobservice serve` process as users run it: `npm start`'s command or the single binary. */
export interface ServeLaunch {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
}

/** The kernel's view of a process's memory: resident now and at its peak, in MiB. */
export function residentMemory(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

/**
 * Starts `jobservice serve` on a free loopback port with the given settings
 * and resolves once it logs that it is listening. It has no command channel:
 * `call` only answers "memory" (read from /proc); `stop` sends SIGTERM.
 */
export function startServe(launch: ServeLaunch, env: Record<string, string>): Promise<BenchChild<{ port: number }>> {
  const child = spawn(launch.command, [...launch.args, "serve"], {
    env: { ...process.env, JOBSERVICE_HOST: "127.0.0.1", JOBSERVICE_PORT: "0", JOBSERVICE_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  live.add(child);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      live.delete(child);
      resolve();
    }),
  );
  return new Promise((resolveReady, rejectReady) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rejectReady(new Error(`${launch.name} was not listening within ${READY_TIMEOUT_MS} ms: ${stderr.trim()}`));
    }, READY_TIMEOUT_MS);
    void exited.then(() => {
      clearTimeout(timer);
      rejectReady(new Error(`${launch.name} exited before it listened: ${stderr.trim()}`));
    });
    createInterface({ input: child.stdout! }).on("line", (line) => {
      let entry: { msg?: string; port?: number };
      try {
        entry = JSON.parse(line) as { msg?: string; port?: number };
      } catch {
        return;
      }
      if (entry.msg !== "listening" || entry.port === undefined) return;
      clearTimeout(timer);
      const pid = child.pid as number;
      resolveReady({
        pid,
        ready: { port: entry.port },
        call: <T>(command: string) =>
          command === "memory" ? Promise.resolve(residentMemory(pid) as T) : Promise.reject(new Error(`${launch.name} takes no command ${command}`)),
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const force = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
          child.kill("SIGTERM");
          await exited;
          clearTimeout(force);
        },
      });
    });
  });
}
