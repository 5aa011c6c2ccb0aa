import { writeFileSync } from "node:fs";
import { configurationReference } from "../src/config/reference.js";

// `npm run docs:config`: rewrites docs/configuration.md from the settings table.
const page = new URL("../docs/configuration.md", import.meta.url);
writeFileSync(page, configurationReference());
console.log(`wrote ${page.pathname}`);
