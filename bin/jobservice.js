#!/usr/bin/env node
// Runs the TypeScript sources directly from a checkout; the container image
// and the single binary use the bundled build instead.
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
