import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadImageSpec } from "../../deploy/image/spec.js";
import { etcFiles, librariesFromLdd } from "../../deploy/image/stage-rootfs.js";

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions per stage, with line continuations joined and comments dropped. */
function parseDockerfile(text: string): Instruction[][] {
  const joined = text.replace(/\\\n/g, " ");
  const stages: Instruction[][] = [];
  for (const line of joined.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const [, keyword = "", args = ""] = /^(\S+)\s*(.*)$/.exec(trimmed) ?? [];
    if (keyword.toUpperCase() === "FROM") stages.push([]);
    stages.at(-1)?.push({ keyword: keyword.toUpperCase(), args: args.trim() });
  }
  return stages;
}

/** `KEY=value KEY2="a b"` pairs, as ENV and LABEL write them. */
function pairs(args: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const match of args.matchAll(/([\w.-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const [, key = "", raw = ""] = match;
    result[key] = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw;
  }
  return result;
}

const spec = loadImageSpec();
const stages = parseDockerfile(readFileSync("Dockerfile", "utf8"));
const [build = [], final = []] = stages;
const only = (keyword: string): string[] => final.filter((i) => i.keyword === keyword).map((i) => i.args);

describe("the Dockerfile follows deploy/image/image.json", () => {
  it("has two stages: the build, then the staged root filesystem alone on scratch", () => {
    expect(stages).toHaveLength(2);
    const runs = build
      .filter((i) => i.keyword === "RUN")
      .map((i) => i.args)
      .join("\n");
    expect(runs).toContain("npm run build:binary");
    expect(runs).toContain("deploy/image/stage-rootfs.ts /rootfs");
    expect(final[0]).toEqual({ keyword: "FROM", args: "scratch" });
    expect(only("COPY")).toEqual(["--from=build /rootfs/ /"]);
    expect(only("RUN")).toEqual([]);
  });

  it("runs the same entrypoint and command as the same unprivileged user", () => {
    expect(only("USER")).toEqual([`${spec.user.uid}:${spec.user.gid}`]);
    expect(only("ENTRYPOINT").map((args) => JSON.parse(args) as unknown)).toEqual([spec.entrypoint]);
    expect(only("CMD").map((args) => JSON.parse(args) as unknown)).toEqual([spec.cmd]);
  });

  it("sets the same environment, port and stop signal, and nothing else configures it", () => {
    expect(Object.assign({}, ...only("ENV").map(pairs))).toEqual(spec.env);
    // The command line's default is loopback only; a container must be reachable through its published port.
    expect(spec.env.JOBSERVICE_HOST).toBe("0.0.0.0");
    expect(only("EXPOSE")).toEqual([spec.exposedPorts.join(" ")]);
    expect(only("STOPSIGNAL")).toEqual([spec.stopSignal]);
    expect(only("VOLUME")).toEqual([]);
  });

  it("carries the fixed labels and the build's version, revision and time", () => {
    const labels = Object.assign({}, ...only("LABEL").map(pairs)) as Record<string, string>;
    for (const [key, value] of Object.entries(spec.labels)) expect(labels[key]).toBe(value);
    expect(labels["org.opencontainers.image.version"]).toBe("${VERSION}");
    expect(labels["org.opencontainers.image.revision"]).toBe("${REVISION}");
    expect(labels["org.opencontainers.image.created"]).toBe("${CREATED}");
    const version = (JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version;
    expect(only("ARG")).toContain(`VERSION=${version}`);
  });
});

describe("the staged root filesystem", () => {
  it("takes every resolved library and the interpreter from ldd's output", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd5a5f2000)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f6245713000)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f6245913000)",
    ].join("\n");
    expect(librariesFromLdd(output)).toEqual(["/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"]);
    expect(() => librariesFromLdd("\tlibfoo.so.1 => not found\n")).toThrow(/libfoo/);
  });

  it("names the unprivileged user in /etc/passwd and /etc/group", () => {
    const etc = etcFiles(spec.user);
    expect(etc["/etc/passwd"]).toContain(`${spec.user.name}:x:${spec.user.uid}:${spec.user.gid}:`);
    expect(etc["/etc/group"]).toContain(`${spec.user.name}:x:${spec.user.gid}:`);
    expect(spec.user.uid).not.toBe(0);
  });
});
