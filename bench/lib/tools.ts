import { spawnSync } from "node:child_process";

/** The system tools the suite drives, with the Debian package that provides each. */
export const TOOLS: readonly { readonly command: string; readonly aptPackage: string; readonly use: string }[] = [
  { command: "h2load", aptPackage: "nghttp2-client", use: "gRPC load over h2c" },
  { command: "redis-server", aptPackage: "redis-server", use: "the Redis store" },
  { command: "redis-benchmark", aptPackage: "redis-tools", use: "the Redis ceiling" },
];

export class MissingTools extends Error {}

/** Throws one error naming every missing tool and the apt package to install, before anything has run. */
export function requireTools(): void {
  const missing = TOOLS.filter((tool) => spawnSync("sh", ["-c", `command -v ${tool.command}`]).status !== 0);
  if (missing.length === 0) return;
  const lines = missing.map((tool) => `  ${tool.command} (${tool.use}): apt-get install ${tool.aptPackage}`);
  const packages = [...new Set(missing.map((tool) => tool.aptPackage))].join(" ");
  throw new MissingTools(`the benchmark needs tools that are not installed:\n${lines.join("\n")}\ninstall them with: apt-get install -y ${packages}`);
}

/** First line of `<command> --version`, or "unknown". */
export function toolVersion(command: string, args: readonly string[] = ["--version"]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return `${result.stdout ?? ""}${result.stderr ?? ""}`.trim().split("\n")[0] || "unknown";
}
