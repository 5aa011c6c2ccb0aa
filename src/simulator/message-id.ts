/**
 * Armada's message ids: `"<millis>:<seq>:<sub>:<last>"` — the event store
 * entry's time and sequence number, the event's index inside that entry's
 * event sequence, and 1 when it is the sequence's last event. Ids order by
 * (millis, seq, sub).
 *
 * Armada prints the numbers unpadded; the simulator pads them to fixed widths
 * (13, 6, 6 digits) so ids also sort correctly as plain strings. Clients that
 * parse the numbers read the same values either way.
 */
export interface MessagePosition {
  readonly millis: number;
  readonly seq: number;
  readonly sub: number;
}

export const MAX_SEQ = 999_999;
export const MAX_SUB = 999_999;

const ID_PATTERN = /^(\d{1,15}):(\d{1,9}):(\d{1,9}):([01])$/;

export function formatMessageId(position: MessagePosition, last: boolean): string {
  const { millis, seq, sub } = position;
  return `${pad(millis, 13)}:${pad(seq, 6)}:${pad(sub, 6)}:${last ? 1 : 0}`;
}

/** The position an id names, or undefined when it is not a message id. */
export function parseMessageId(id: string): MessagePosition | undefined {
  const match = ID_PATTERN.exec(id);
  if (!match) return undefined;
  return { millis: Number(match[1]), seq: Number(match[2]), sub: Number(match[3]) };
}

export function comparePositions(a: MessagePosition, b: MessagePosition): number {
  return a.millis - b.millis || a.seq - b.seq || a.sub - b.sub;
}

/** Orders two well-formed message ids; throws on anything else. */
export function compareMessageIds(a: string, b: string): number {
  return comparePositions(parseOrThrow(a), parseOrThrow(b));
}

function parseOrThrow(id: string): MessagePosition {
  const position = parseMessageId(id);
  if (!position) throw new TypeError(`not an Armada message id: ${JSON.stringify(id)}`);
  return position;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, "0");
}
