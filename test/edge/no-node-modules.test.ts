import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { relative } from "node:path";
import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../..", import.meta.url).pathname;
const EDGE = "src/edge";

/**
 * Every import of a Node module in what the entries bundle, as "<file>
 * imports <module>": `node:` ones from any file, and Node's bare names
 * (`fs`, `crypto`) from this repository's own files. A package may name a
 * bare one that its browser field maps away, as bcryptjs does `crypto`.
 * Type-only imports are not followed: they are gone once compiled.
 */
async function nodeImports(entryPoints: readonly string[]): Promise<{ imports: string[]; ownFiles: string[] }> {
  const found: string[] = [];
  const builtins = new Set(builtinModules);
  const finder: Plugin = {
    name: "node-imports",
    setup(bundle) {
      bundle.onResolve({ filter: /.*/ }, (args) => {
        const own = args.importer !== "" && !args.importer.includes("/node_modules/");
        const bare = builtins.has(args.path.split("/")[0] ?? "");
        if (args.path.startsWith("node:") || (own && bare)) found.push(`${relative(ROOT, args.importer)} imports ${args.path}`);
        // Not followed, whoever imports it: what counts is who asks for it.
        return args.path.startsWith("node:") || bare ? { path: args.path, external: true } : undefined;
      });
    },
  };
  const { metafile } = await build({
    entryPoints: [...entryPoints],
    absWorkingDir: ROOT,
    bundle: true,
    platform: "browser",
    format: "esm",
    write: false,
    outdir: "out",
    metafile: true,
    plugins: [finder],
    logLevel: "silent",
  });
  return { imports: found, ownFiles: Object.keys(metafile.inputs).filter((path) => !path.includes("node_modules/")) };
}

describe("the edge entry's code", () => {
  it("needs no Node module: not in src/edge, nor in anything it imports", async () => {
    const entries = readdirSync(`${ROOT}${EDGE}`)
      .filter((name) => name.endsWith(".ts"))
      .map((name) => `${EDGE}/${name}`);
    expect(entries).toContain(`${EDGE}/worker.ts`);
    const { imports, ownFiles } = await nodeImports(entries);
    expect(imports).toEqual([]);
    // Nor Node's Buffer, which Workers do not have: the fetch API's atob, btoa and TextDecoder do its work.
    expect(ownFiles).toContain("src/auth/basic-mode.ts");
    expect(ownFiles.filter((path) => /\bBuffer\b/.test(readFileSync(`${ROOT}${path}`, "utf8")))).toEqual([]);
  });

  it("is checked by a finder that does see Node modules, directly and through imports", async () => {
    expect((await nodeImports(["src/auth/node-digest.ts"])).imports).toEqual(["src/auth/node-digest.ts imports node:crypto"]);
    expect((await nodeImports(["src/auth/index.ts"])).imports).toEqual(
      expect.arrayContaining(["src/auth/reloading-file.ts imports node:fs", "src/auth/client-certificate.ts imports node:tls"]),
    );
  });
});
