import type { JobRecord } from "../store/store.js";
import type { ArmadaMessage } from "../armada/decode-event.js";
import { EVENT_NAMES, applyEvent } from "./event-to-record.js";

export interface BatchResult {
  /** Only the jobs whose record changed, in their final state after the batch. */
  readonly changed: Map<string, JobRecord>;
  /** The id of the last message in the batch (known case or not): the resume point once written. */
  readonly cursor: string;
  /** How many events of each type changed a record, for metrics. */
  readonly appliedByType: Map<string, number>;
  /** Job id → external job URI, from the batch's `submitted` events that carry one. */
  readonly externalJobUris: Map<string, string>;
}

/** The distinct jobs a batch touches, to read their current records in one round trip. */
export function jobIdsOf(messages: readonly ArmadaMessage[]): string[] {
  const ids = new Set<string>();
  for (const m of messages) if (m.event !== undefined && m.event.jobId !== "") ids.add(m.event.jobId);
  return [...ids];
}

/** Applies messages in stream order on top of the stored records of their jobs. */
export function applyBatch(stored: ReadonlyMap<string, JobRecord>, messages: readonly ArmadaMessage[], previousCursor: string): BatchResult {
  const changed = new Map<string, JobRecord>();
  const appliedByType = new Map<string, number>();
  const externalJobUris = new Map<string, string>();
  let cursor = previousCursor;
  for (const m of messages) {
    cursor = m.id;
    const event = m.event;
    // No job has an empty id: nobody could ask for it, and the store refuses to write one.
    if (event === undefined || event.jobId === "") continue;
    const jobId = event.jobId;
    // Indexed even when the event changes no record (a re-delivery): an entry is a fact, and writing it again is harmless.
    if (event.externalJobUri !== "") externalJobUris.set(jobId, event.externalJobUri);
    const before = changed.get(jobId) ?? stored.get(jobId);
    const after = applyEvent(before, m.id, event);
    if (after === undefined || after === before) continue;
    changed.set(jobId, after);
    const type = EVENT_NAMES[event.case];
    appliedByType.set(type, (appliedByType.get(type) ?? 0) + 1);
  }
  return { changed, cursor, appliedByType, externalJobUris };
}
