import type { JobSetKey } from "./store.js";

/** The Redis keys that hold one job set; both share one Cluster hash slot. */
export interface JobSetKeys {
  /**
   * Hash: escaped job id → encoded JobRecord, plus the reserved fields below.
   * Everything a reader trusts is in this one key, so eviction, expiry or a
   * lost write drop all of a job set or none of it.
   */
  readonly jobs: string;
  /** String: `<escaped owner>:<fencing token>` of the lease to follow this job set, with its own expiry. */
  readonly lease: string;
}

/**
 * Reserved fields of the jobs hash. Escaped job ids never contain `:`, so
 * these can never be taken for a job.
 */
export const RESERVED_FIELDS = {
  /** Encoded JobSetProgress. */
  progress: ":progress",
  /** The progress's cursor as plain text, for the write script's compare-and-set. */
  cursor: ":cursor",
  /** The highest fencing token that has written. */
  fence: ":fence",
} as const;

// `%` (the escape itself), `:` (separates the ids), `{` `}` (delimit the hash
// tag) and lone surrogates (UTF-8 cannot carry them, so two ids differing only
// there would become the same bytes on the wire).
const UNSAFE = /[%:{}]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * An injective escape: distinct ids always give distinct results, and the
 * result never contains `:`, `{` or `}`. Ordinary ids (ULIDs, names) come out
 * unchanged, which keeps keys and hash fields short.
 */
export function escapeId(id: string): string {
  return id.replace(UNSAFE, (unit) => {
    const code = unit.charCodeAt(0);
    return code < 0x80 ? `%${code.toString(16).toUpperCase().padStart(2, "0")}` : `%u${code.toString(16).toUpperCase()}`;
  });
}

/** The inverse of `escapeId`, for ids read back from hash field names. */
export function unescapeId(escaped: string): string {
  return escaped.replace(/%u([0-9A-F]{4})|%([0-9A-F]{2})/g, (_, wide: string | undefined, narrow: string | undefined) =>
    String.fromCharCode(parseInt(wide ?? narrow ?? "", 16)),
  );
}

/** What identifies a job set inside one key; also the Cluster hash tag. */
export function jobSetTag(jobSet: JobSetKey): string {
  return `${escapeId(jobSet.queue)}:${escapeId(jobSet.jobSetId)}`;
}

export function jobSetKeys(jobSet: JobSetKey): JobSetKeys {
  const prefix = `jobservice:{${jobSetTag(jobSet)}}`;
  return { jobs: `${prefix}:jobs`, lease: `${prefix}:lease` };
}

/** The field of a job inside its job set's hash. */
export function jobField(jobId: string): string {
  return escapeId(jobId);
}

/** The job id a hash field names. */
export function jobIdOfField(field: string): string {
  return unescapeId(field);
}
