import { accessSync, constants } from "node:fs";

/** A setting that names a file: it must be readable now. */
export function readableFile(raw: string): string {
  try {
    accessSync(raw, constants.R_OK);
  } catch {
    throw new Error(`expected a readable file, but "${raw}" cannot be read`);
  }
  return raw;
}
