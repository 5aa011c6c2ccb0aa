import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { connect as connectTls } from "node:tls";
import { tmpdir } from "node:os";
import { freePort } from "./free-port.js";

export interface RedisServerOptions {
  /** Serve TLS only (`rediss://`) with this certificate; clients are not asked for one. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
  /** Listen on this port (to restart a server where its clients expect it) instead of a free one. */
  readonly port?: number;
  /**
   * Keep a snapshot in this directory: `SAVE` writes it, and a server started
   * on the same directory loads it (a restart that keeps the data).
   */
  readonly dataDir?: string;
  /** More `redis-server` arguments, e.g. `["--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru"]`. */
  readonly args?: readonly string[];
  /** Start as a Redis Cluster node whose config file lives in `dir`; the node joins no cluster by itself. */
  readonly cluster?: { readonly dir: string; readonly nodeTimeoutMs: number };
  /** Require this password (`requirepass`; cluster replicas also use it to reach their master). */
  readonly password?: string;
}

export interface RedisServer {
  /** `redis://127.0.0.1:<port>`, or `rediss://` with TLS */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers, as in a long pause or a partition. */
  pause(): void;
  resume(): void;
  /** Stops the server; safe to call more than once. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL, as a crash would, and resolves once it is gone. */
  crash(): Promise<void>;
}

const LAUNCH_ATTEMPTS = 5;
const READY_TIMEOUT_MS = 10_000;
const PING_INTERVAL_MS = 25;
const STOP_GRACE_MS = 5_000;

/**
 * Launches Debian's `redis-server` on a free loopback port, with persistence
 * off, and resolves once it answers PING. A port taken between choosing and
 * binding it is retried on another port.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  let lastFailure: Error | undefined;
  for (let attempt = 0; attempt < LAUNCH_ATTEMPTS; attempt++) {
    const port = options.port ?? (await freePort());
    const outcome = await launch(port, options);
    if ("server" in outcome) return outcome.server;
    lastFailure = outcome.failure;
    if (!outcome.portClash || options.port !== undefined) break;
  }
  throw lastFailure ?? new Error("redis-server did not start");
}

type LaunchOutcome = { server: RedisServer } | { failure: Error; portClash: boolean };

async function launch(port: number, options: RedisServerOptions): Promise<LaunchOutcome> {
  const listen = options.tls
    ? ["--port", "0", "--tls-port", String(port), "--tls-cert-file", options.tls.certFile, "--tls-key-file", options.tls.keyFile, "--tls-auth-clients", "no"]
    : ["--port", String(port)];
  // The cluster bus gets its own free port: port + 10000, Redis's default, may be taken or beyond 65535.
  const cluster = options.cluster
    ? [
        "--cluster-enabled",
        "yes",
        "--cluster-port",
        String(await freePort()),
        "--cluster-config-file",
        `${options.cluster.dir}/nodes-${port}.conf`,
        "--cluster-node-timeout",
        String(options.cluster.nodeTimeoutMs),
        // A replica takes over however long ago it last heard from its master (a test's master may idle).
        "--cluster-replica-validity-factor",
        "0",
        // Replicas sync at once rather than after Redis's default 5 s wait for more replicas.
        "--repl-diskless-sync-delay",
        "0",
        // A node must start empty: a dump.rdb left in the shared temporary directory would be loaded.
        "--dbfilename",
        `dump-${port}.rdb`,
      ]
    : [];
  const auth = options.password === undefined ? [] : ["--requirepass", options.password, ...(options.cluster ? ["--masterauth", options.password] : [])];
  const child = spawn(
    "redis-server",
    [
      ...listen,
      ...cluster,
      ...auth,
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      options.cluster?.dir ?? options.dataDir ?? tmpdir(),
      // Without a data directory of its own, a server's snapshot name is unique, so no server loads another's.
      "--dbfilename",
      options.dataDir ? "dump.rdb" : `redis-${port}-${process.pid}.rdb`,
      "--loglevel",
      "warning",
      ...(options.args ?? []),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<Error>((resolve) => {
    child.once("error", (error: NodeJS.ErrnoException) => {
      resolve(
        error.code === "ENOENT" ? new Error("redis-server is not installed: install Debian's `redis-server` package (apt-get install redis-server)") : error,
      );
    });
    child.once("exit", (code, signal) => {
      resolve(new Error(`redis-server on port ${port} exited (${signal ?? `code ${code}`}) before answering PING: ${output.trim()}`));
    });
  });
  const killOnExit = (): void => {
    child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);

  const tls = options.tls !== undefined;
  const ready = await Promise.race([waitForPing(port, tls, options.password).then(() => undefined), exited]);
  if (ready instanceof Error) {
    process.off("exit", killOnExit);
    await stopChild(child);
    return { failure: ready, portClash: /address already in use/i.test(output) };
  }
  return {
    server: {
      url: `${tls ? "rediss" : "redis"}://127.0.0.1:${port}`,
      port,
      pid: child.pid!,
      pause: () => void child.kill("SIGSTOP"),
      resume: () => void child.kill("SIGCONT"),
      stop: async () => {
        process.off("exit", killOnExit);
        await stopChild(child);
      },
      crash: async () => {
        process.off("exit", killOnExit);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const gone = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await gone;
      },
    },
  };
}

async function waitForPing(port: number, tls: boolean, password: string | undefined): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (await answersPing(port, tls, password)) return;
    await new Promise((resolve) => setTimeout(resolve, PING_INTERVAL_MS));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${READY_TIMEOUT_MS} ms`);
}

function answersPing(port: number, tls: boolean, password: string | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    // Readiness only: the test's own client decides whether to trust the certificate.
    const socket: Socket = tls ? connectTls({ host: "127.0.0.1", port, rejectUnauthorized: false }) : connect({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(1_000, () => finish(false));
    socket.once("error", () => finish(false));
    socket.once(tls ? "secureConnect" : "connect", () => socket.write(password === undefined ? "PING\r\n" : `AUTH ${password}\r\nPING\r\n`));
    socket.on("data", (chunk: Buffer) => {
      reply += chunk.toString();
      const lines = reply.split("\r\n");
      if (lines.length > (password === undefined ? 1 : 2)) finish(lines.at(-2) === "+PONG");
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    // A paused server would not act on SIGTERM.
    child.kill("SIGCONT");
    child.kill("SIGTERM");
  });
}
