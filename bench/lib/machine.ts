import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import type { BenchMeta } from "./report.js";
import { toolVersion } from "./tools.js";

const NODE_MODULES = new URL("../../node_modules/", import.meta.url);

/** Read from the file: some packages' exports hide their package.json from require. */
function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(new URL(`${name}/package.json`, NODE_MODULES), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function osName(): string {
  try {
    const pretty = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1];
    return `${pretty ?? "Linux"}, kernel ${release()}`;
  } catch {
    return `kernel ${release()}`;
  }
}

export function describeMachine(): BenchMeta["machine"] {
  return { cpu: cpus()[0]?.model.trim() ?? "unknown", cores: cpus().length, memoryGiB: totalmem() / 1024 ** 3, os: osName() };
}

export function describeVersions(): Record<string, string> {
  return {
    node: process.version,
    "redis-server": /v=(\S+)/.exec(toolVersion("redis-server"))?.[1] ?? "unknown",
    h2load: toolVersion("h2load").replace(/^h2load\s+/, ""),
    autocannon: packageVersion("autocannon"),
    "@connectrpc/connect-node": packageVersion("@connectrpc/connect-node"),
  };
}
