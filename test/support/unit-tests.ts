import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

/**
 * The test files of `npm run test:unit`: those that, with the test helpers they
 * import, start no server and no child process and open no socket — the pure
 * modules, the loop a developer runs while editing. Found by reading the files,
 * so a new pure test joins by itself and a test that starts a server leaves.
 */
const IMPURE: readonly RegExp[] = [
  /["']node:(child_process|net|http|http2|https|dgram|worker_threads)["']/,
  /\b(spawn|execFile|execFileSync|execSync|fork)\(/,
  /["'](ioredis|@upstash\/redis|playwright-core|esbuild|@connectrpc\/connect-node)["']/,
  /\b(startSimulator|startJobService|startTestService|startFullTestService|createServer|runJobservice|pythonEnv|goTool)\b/,
  /\.listen\(/,
  /["'](\.\.\/)+chaos\//,
  /["'](\.\.\/)+src\/(server|cli)\//,
];

/** `import type …` runs nothing. */
const TYPE_IMPORT = /^import type[\s\S]*?from\s*["'][^"']+["'];?/gm;
const RELATIVE_IMPORT = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g;

export function unitTestFiles(root: string): string[] {
  const testDir = join(root, "test");
  const verdicts = new Map<string, boolean>();
  const pure = (file: string): boolean => {
    const known = verdicts.get(file);
    if (known !== undefined) return known;
    verdicts.set(file, true); // an import cycle proves nothing impure
    const text = readFileSync(file, "utf8").replace(TYPE_IMPORT, "");
    const helpers = [...text.matchAll(RELATIVE_IMPORT)]
      .map(([, path = ""]) => resolve(dirname(file), path.replace(/\.js$/, ".ts")))
      .filter((path) => path.startsWith(testDir + "/") && existsSync(path));
    const verdict = !IMPURE.some((pattern) => pattern.test(text)) && helpers.every(pure);
    verdicts.set(file, verdict);
    return verdict;
  };
  return testFiles(testDir)
    .filter(pure)
    .map((file) => relative(root, file));
}

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return testFiles(path);
    return entry.name.endsWith(".test.ts") ? [path] : [];
  });
}
