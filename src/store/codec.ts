import type { JobKey, JobLookup, JobRecord, JobSetKey, JobSetProgress, JobSetUpdate } from "./store.js";

/**
 * Values are JSON arrays in a fixed field order rather than objects: a cached
 * job must fit in about 250 bytes of Redis memory, and field names would be
 * most of that. Trailing absent fields are left out. JSON text (never raw
 * bytes) survives every adapter, Upstash's base64 round trip included, and
 * JSON.stringify escapes lone surrogates so even those come back exactly.
 */

type Kind = "string" | "boolean" | "number" | "integer" | "count";

interface Field<T> {
  readonly name: keyof T & string;
  readonly kind: Kind;
  /** "required": always present; "optional": may be undefined; otherwise the value that may be left out. */
  readonly presence: "required" | "optional" | { readonly fallback: string };
}

// Order is the wire format: never reorder, only append.
const RECORD_FIELDS: readonly Field<JobRecord>[] = [
  { name: "state", kind: "integer", presence: "required" },
  { name: "lastEvent", kind: "string", presence: "required" },
  { name: "messageId", kind: "string", presence: "required" },
  { name: "runAttempts", kind: "count", presence: "required" },
  { name: "submittedAt", kind: "number", presence: "optional" },
  { name: "startedAt", kind: "number", presence: "optional" },
  { name: "cluster", kind: "string", presence: "optional" },
  { name: "node", kind: "string", presence: "optional" },
  { name: "finishedAt", kind: "number", presence: "optional" },
  { name: "exitCode", kind: "integer", presence: "optional" },
  { name: "error", kind: "string", presence: { fallback: "" } },
  { name: "cause", kind: "string", presence: "optional" },
  { name: "armadaState", kind: "integer", presence: "optional" },
];

const PROGRESS_FIELDS: readonly Field<JobSetProgress>[] = [
  { name: "cursor", kind: "string", presence: "required" },
  { name: "caughtUp", kind: "boolean", presence: "required" },
  { name: "updatedAt", kind: "number", presence: "required" },
  { name: "error", kind: "string", presence: { fallback: "" } },
];

export function encodeJobRecord(record: JobRecord): string {
  return encode("job record", RECORD_FIELDS, record);
}

/** `where` names the job in the error a corrupt value raises; it is only called then. */
export function decodeJobRecord(text: string, where: () => string = NOWHERE): JobRecord {
  return decode<JobRecord>("job record", RECORD_FIELDS, text, where);
}

const NOWHERE = (): string => "";

/**
 * What `decodeJobRecord(encodeJobRecord(record))` gives, frozen, and refused
 * where encoding refuses, without the JSON in between: for a store that keeps
 * records as objects but must hold and refuse exactly what Redis would.
 */
export function normalizeJobRecord(record: JobRecord): JobRecord {
  return normalize("job record", RECORD_FIELDS, record);
}

export function normalizeProgress(progress: JobSetProgress): JobSetProgress {
  return normalize("job set progress", PROGRESS_FIELDS, progress);
}

export function encodeProgress(progress: JobSetProgress): string {
  return encode("job set progress", PROGRESS_FIELDS, progress);
}

export function decodeProgress(text: string, where: () => string = NOWHERE): JobSetProgress {
  return decode<JobSetProgress>("job set progress", PROGRESS_FIELDS, text, where);
}

/** A job set update as stored; encoding all of it first means a bad record fails the write before anything is written. */
export interface EncodedUpdate {
  /** [job id, encoded record] */
  readonly jobs: readonly (readonly [string, string])[];
  readonly progress: string;
}

export function encodeUpdate(update: JobSetUpdate): EncodedUpdate {
  return {
    jobs: [...update.jobs].map(([jobId, record]) => [jobId, encodeJobRecord(record)] as const),
    progress: encodeProgress(update.progress),
  };
}

/** What a store holds for a job and its job set (null or undefined when absent), decoded. */
export function decodeLookup(key: JobKey, job: string | null | undefined, progress: string | null | undefined): JobLookup {
  return {
    ...(job != null && { job: decodeJobRecord(job, () => describeJob(key.jobId, key)) }),
    ...(progress != null && { progress: decodeProgress(progress, () => describeJobSet(key)) }),
  };
}

/** `values[i]` is what the store holds for `jobIds[i]`; absent jobs are left out. */
export function decodeJobs(jobSet: JobSetKey, jobIds: readonly string[], values: readonly (string | null | undefined)[]): Map<string, JobRecord> {
  const jobs = new Map<string, JobRecord>();
  for (let index = 0; index < jobIds.length; index++) {
    const jobId = jobIds[index]!;
    const value = values[index];
    if (value != null)
      jobs.set(
        jobId,
        decodeJobRecord(value, () => describeJob(jobId, jobSet)),
      );
  }
  return jobs;
}

function describeJobSet(jobSet: JobSetKey): string {
  return `job set ${quote(jobSet.jobSetId)} in queue ${quote(jobSet.queue)}`;
}

function describeJob(jobId: string, jobSet: JobSetKey): string {
  return `job ${quote(jobId)} of ${describeJobSet(jobSet)}`;
}

// Encoding and decoding run for every job of every batch: plain loops, and no closure or message built unless it fails.
function encode<T>(what: string, fields: readonly Field<T>[], value: T): string {
  const values: unknown[] = new Array(fields.length);
  let length = 0;
  for (let index = 0; index < fields.length; index++) {
    const field = fields[index]!;
    const item: unknown = value[field.name];
    if (isOmittable(field, item)) {
      values[index] = null;
      continue;
    }
    values[index] = storable(what, field, item);
    length = index + 1;
  }
  values.length = length;
  return JSON.stringify(values);
}

function normalize<T>(what: string, fields: readonly Field<T>[], value: T): T {
  const result: Record<string, unknown> = {};
  for (let index = 0; index < fields.length; index++) {
    const field = fields[index]!;
    const item: unknown = value[field.name];
    if (isOmittable(field, item)) {
      if (field.presence !== "optional" && field.presence !== "required") result[field.name] = field.presence.fallback;
      continue;
    }
    const stored = storable(what, field, item);
    // JSON has no negative zero.
    result[field.name] = typeof stored === "number" ? stored + 0 : stored;
  }
  return Object.freeze(result) as T;
}

/** `item` if a field of its kind may hold it; what encoding and normalizing refuse, with the same message. */
function storable<T>(what: string, field: Field<T>, item: unknown): unknown {
  const problem = kindProblem(field.kind, item);
  if (problem) throw new Error(`cannot store ${what}: ${field.name} ${problem}, got ${describe(item)}`);
  return item;
}

function decode<T>(what: string, fields: readonly Field<T>[], text: string, where: () => string): T {
  const corrupt = (reason: string): Error => {
    const place = where();
    return corruption(place ? `${what} of ${place}` : what, text, reason);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt("it is not JSON");
  }
  if (!Array.isArray(parsed)) throw corrupt("it is not a JSON array");
  if (parsed.length > fields.length) throw corrupt(`it has ${parsed.length} fields, at most ${fields.length} are known`);
  const result: Record<string, unknown> = {};
  for (let index = 0; index < fields.length; index++) {
    const field = fields[index]!;
    const item: unknown = parsed[index] ?? null;
    if (item === null) {
      if (field.presence === "required") throw corrupt(`${field.name} is missing`);
      if (field.presence !== "optional") result[field.name] = field.presence.fallback;
      continue;
    }
    const problem = kindProblem(field.kind, item);
    if (problem) throw corrupt(`${field.name} ${problem}`);
    result[field.name] = item;
  }
  return result as T;
}

function isOmittable<T>(field: Field<T>, item: unknown): boolean {
  if (field.presence === "required") return false;
  if (field.presence === "optional") return item === undefined;
  return item === field.presence.fallback;
}

function kindProblem(kind: Kind, item: unknown): string | undefined {
  switch (kind) {
    case "string":
      return typeof item === "string" ? undefined : "must be a string";
    case "boolean":
      return typeof item === "boolean" ? undefined : "must be a boolean";
    case "number":
      return typeof item === "number" && Number.isFinite(item) ? undefined : "must be a finite number";
    case "integer":
      return Number.isSafeInteger(item) ? undefined : "must be an integer";
    case "count":
      return Number.isSafeInteger(item) && (item as number) >= 0 ? undefined : "must be a non-negative integer";
  }
}

function describe(item: unknown): string {
  return typeof item === "number" ? String(item) : typeof item;
}

const SHOWN_CHARS = 120;

/** A stored value this build cannot read: the store answered, but with something wrong. */
export class CorruptValue extends Error {
  override name = "CorruptValue";
}

function corruption(what: string, text: string, reason: string): Error {
  return new CorruptValue(`corrupt ${what} in the store (${reason}): ${quote(text)}`);
}

/** Ids and values can be huge; an error message shows their start. */
function quote(text: string): string {
  return JSON.stringify(text.length > SHOWN_CHARS ? `${text.slice(0, SHOWN_CHARS)}…` : text);
}
