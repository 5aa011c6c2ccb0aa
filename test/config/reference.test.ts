import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { configurationReference } from "../../src/config/reference.js";
import { EDGE_SETTINGS, SETTINGS, type Setting } from "../../src/config/settings.js";

describe("the configuration reference", () => {
  it("is the committed docs/configuration.md (run `npm run docs:config` after changing a setting)", () => {
    const committed = readFileSync(new URL("../../docs/configuration.md", import.meta.url), "utf8");
    expect(committed).toBe(configurationReference());
  });

  it("lists every setting with its flag and default, and says a secret is never logged", () => {
    const page = configurationReference();
    for (const setting of SETTINGS as readonly Setting[]) {
      const row = page.split("\n").find((line) => line.startsWith(`| \`${setting.env}\` |`));
      expect(row, setting.env).toContain(`| \`--${setting.flag}\` |`);
      if (setting.default !== "") expect(row).toContain(`| \`${setting.default}\` |`);
      expect(row?.endsWith("Never logged. |")).toBe(setting.secret === true);
    }
  });

  it("lists the edge entry's own settings apart, without a flag of serve", () => {
    const page = configurationReference();
    const edge = page.slice(page.indexOf("## Edge entry only"));
    for (const setting of EDGE_SETTINGS as readonly Setting[]) {
      expect(edge).toContain(`| \`${setting.env}\` | \`${setting.default}\` |`);
      expect(page).not.toContain(`--${setting.flag}`);
    }
  });

  it("puts other settings named in a description in code, once", () => {
    const page = configurationReference([
      { env: "A_SETTING", flag: "a", default: "", description: "Used when B_SETTING is unset; see `B_SETTING`." },
      { env: "B_SETTING", flag: "b", default: "1", description: "NOT_A_SETTING stays plain.", secret: true },
    ]);
    expect(page).toContain("| `A_SETTING` | `--a` |  | Used when `B_SETTING` is unset; see `B_SETTING`. |");
    expect(page).toContain("| `B_SETTING` | `--b` | `1` | NOT_A_SETTING stays plain. Never logged. |");
  });
});
