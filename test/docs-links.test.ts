import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("..", import.meta.url).pathname;

/** Pages the docs link to that other branches are writing; empty this once they are merged. */
const WRITTEN_ELSEWHERE = new Set<string>([]);

const PAGES = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];

function withoutCode(text: string): string {
  return text.replace(/```[\s\S]*?```/g, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_\- ]/gu, "")
    .replaceAll(" ", "-");
}

function anchorsOf(file: string): Set<string> {
  return new Set([...withoutCode(readFileSync(file, "utf8")).matchAll(/^#+ (.*)$/gm)].map(([, heading = ""]) => anchorOf(heading)));
}

describe("the docs' links", () => {
  it("make anchors as GitHub does", () => {
    expect(anchorOf("The permissions file (`oidc`, `basic` and client certificates)")).toBe("the-permissions-file-oidc-basic-and-client-certificates");
    expect(anchorOf("Edge entry: the read path on fetch runtimes")).toBe("edge-entry-the-read-path-on-fetch-runtimes");
  });

  it.each(PAGES)("%s links only to files and headings that exist", (page) => {
    const file = join(ROOT, page);
    const broken: string[] = [];
    for (const [, target = ""] of withoutCode(readFileSync(file, "utf8")).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^(https?|mailto):/.test(target)) continue;
      const [path = "", fragment] = target.split("#");
      const linked = path === "" ? file : resolve(dirname(file), path);
      if (WRITTEN_ELSEWHERE.has(relative(ROOT, linked))) continue;
      if (!existsSync(linked)) broken.push(`${target}: no such file`);
      else if (fragment && linked.endsWith(".md") && !anchorsOf(linked).has(fragment)) broken.push(`${target}: no such heading`);
    }
    expect(broken).toEqual([]);
  });
});
