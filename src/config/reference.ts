import { EDGE_SETTINGS, SETTINGS, type Setting } from "./settings.js";

/**
 * docs/configuration.md, rendered from the settings table so the page cannot
 * drift from what `jobservice serve` accepts (`npm run docs:config` writes it;
 * test/config/reference.test.ts fails when the committed page is stale).
 */
export function configurationReference(settings: readonly Setting[] = SETTINGS, edgeSettings: readonly Setting[] = EDGE_SETTINGS): string {
  const names = new Set([...settings, ...edgeSettings].map((s) => s.env));
  const cells = (s: Setting): string => `${s.default === "" ? "" : `\`${s.default}\``} | ${codeNames(s.description, names)}${s.secret ? " Never logged." : ""}`;
  const rows = settings.map((s) => `| \`${s.env}\` | \`--${s.flag}\` | ${cells(s)} |`);
  const edgeRows = edgeSettings.map((s) => `| \`${s.env}\` | ${cells(s)} |`);
  return [
    "# Configuration",
    "",
    "<!-- Generated from src/config/settings.ts by `npm run docs:config`; edit the table there, not this page. -->",
    "",
    "Every setting is an environment variable and a flag of `jobservice serve`; the flag wins. Settings are",
    "checked at start-up: a bad value stops the process with exit code 2 and a message naming each bad setting",
    "and what was expected. `jobservice serve --help` prints the same list.",
    "",
    "| variable | flag | default | meaning |",
    "|---|---|---|---|",
    ...rows,
    "",
    "How the settings work together: callers in [Security](security.md), the service's own identity in",
    "[Authenticating to Armada](armada-credentials.md), stores in [Stores](stores.md), the bounds in",
    "[Operations reference](operations-reference.md#limits). The edge entry reads a few settings of its own:",
    "[Deployment](deployment.md#edge-entry-the-read-path-on-fetch-runtimes).",
    "",
    ...(edgeRows.length === 0
      ? []
      : [
          "## Edge entry only",
          "",
          "Read by the edge entry (src/edge/worker.ts) from its bindings or environment, besides the settings above it",
          "shares; `jobservice serve` has no such flag.",
          "",
          "| variable | default | meaning |",
          "|---|---|---|",
          ...edgeRows,
          "",
        ]),
  ].join("\n");
}

/** Other settings named in a description, as code, unless they already are. */
function codeNames(text: string, names: ReadonlySet<string>): string {
  return text.replace(/(`[^`]*`)|\b[A-Z][A-Z0-9_]+\b/g, (match, quoted: string | undefined) =>
    quoted === undefined && names.has(match) ? `\`${match}\`` : match,
  );
}
