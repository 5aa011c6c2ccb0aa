import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * `npm run lint`'s cycle check: every relative import between the modules under src/ (type-only
 * imports included, as a reader follows them too), and any cycle among them printed and failed.
 */
const ROOT = resolve(import.meta.dirname, "..");
const SRC = join(ROOT, "src");

function modules(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === join(SRC, "gen") ? [] : modules(path);
    return /\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

/** The modules a file imports or re-exports by a relative path, as absolute .ts/.tsx paths. */
function importsOf(file: string, known: ReadonlySet<string>): string[] {
  const source = readFileSync(file, "utf8");
  const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?\bfrom\s+["'](\.{1,2}\/[^"']+)["']/g)].map(([, spec = ""]) => spec);
  return specifiers.flatMap((spec) => {
    const base = resolve(dirname(file), spec).replace(/\.js$/, "");
    const found = [`${base}.ts`, `${base}.tsx`, join(base, "index.ts")].find((candidate) => known.has(candidate));
    return found ? [found] : [];
  });
}

/** Each cycle once, as the path around it. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      if (state.get(next) === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of graph.keys()) if (!state.has(node)) visit(node);
  return cycles;
}

/** The cycles among the modules under src/, each as module paths relative to src/. */
export function sourceCycles(): string[][] {
  const files = modules(SRC);
  const known = new Set(files);
  return findCycles(new Map(files.map((file) => [file, importsOf(file, known)]))).map((cycle) => cycle.map((file) => relative(SRC, file)));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cycles = sourceCycles();
  for (const cycle of cycles) console.error(`import cycle: ${cycle.join(" > ")}`);
  if (cycles.length > 0) process.exit(1);
  console.log("no import cycles among the modules under src/");
}
