// The processes a chaos scenario runs: the service replicas (each its own
// process, stopped by PID and killed on exit) and Redis restarts.
import { spawn, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { startRedisServer, type RedisServer } from "../test/support/redis-server.js";
import type { Env, ServiceChild } from "./env.js";
import type { ChaosServiceConfig } from "./service.js";

const SERVICE_SCRIPT = fileURLToPath(new URL("./service.ts", import.meta.url));
export const READY_TIMEOUT_MS = 30_000;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

export async function startService(config: ChaosServiceConfig): Promise<ServiceChild> {
  const child = spawn(process.execPath, ["--import", "tsx", SERVICE_SCRIPT, JSON.stringify(config)], { stdio: ["ignore", "pipe", "pipe"] });
  const service: ServiceChild = { url: `http://127.0.0.1:${config.port}`, config, child, stopped: false, log: "" };
  child.stderr?.on("data", (chunk: Buffer) => (service.log += chunk.toString()));
  children.add(child);
  child.once("exit", () => children.delete(child));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the service on port ${config.port} was not ready in time: ${service.log.slice(-2000)}`)),
      READY_TIMEOUT_MS,
    );
    child.once("exit", (code, signal) => reject(new Error(`the service on port ${config.port} exited (${signal ?? code}): ${service.log.slice(-2000)}`)));
    createInterface({ input: child.stdout! }).once("line", () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return service;
}

export function kill(service: ServiceChild): Promise<void> {
  if (service.child.exitCode !== null || service.child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    service.child.once("exit", () => resolve());
    service.child.kill("SIGKILL");
  });
}

export async function restart(env: Env, index: number): Promise<void> {
  const old = env.services[index]!;
  await kill(old);
  const fresh = await startService(old.config);
  fresh.log = old.log;
  env.services[index] = fresh;
}

export async function restartRedis(env: Env, keepData: boolean): Promise<void> {
  const port = env.redis.port;
  if (keepData) {
    const admin = env.admin();
    await admin.save();
    admin.disconnect();
  }
  await env.redis.stop();
  if (!keepData) rmSync(join(env.dataDir, "dump.rdb"), { force: true });
  return void (env.redis = await startRedisServer({ port, dataDir: env.dataDir }));
}

/** Waits until a Redis replica has finished its first sync with its master. */
export async function replicaInSync(replica: RedisServer): Promise<void> {
  const client = new Redis(replica.url, { maxRetriesPerRequest: 1 });
  try {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (!/master_link_status:up/.test(await client.info("replication"))) {
      if (Date.now() > deadline) throw new Error("the Redis replica did not finish its first sync in time");
      await sleep(50);
    }
  } finally {
    client.disconnect();
  }
}
