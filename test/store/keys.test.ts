import { describe, expect, it } from "vitest";
import { escapeId, jobField, jobSetKeys, jobSetTag } from "../../src/store/keys.js";

/** CRC16-CCITT (XMODEM), as the Redis Cluster specification defines key slots. */
function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** The slot Redis Cluster gives a key: only the hash tag counts when there is a non-empty one. */
function clusterSlot(key: string): number {
  const open = key.indexOf("{");
  const close = open < 0 ? -1 : key.indexOf("}", open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  return crc16(new TextEncoder().encode(hashed)) % 16384;
}

/** Whether a string comes back unchanged from UTF-8, as it must to cross a wire. */
function survivesUtf8(text: string): boolean {
  return Buffer.from(text, "utf8").toString("utf8") === text;
}

/** Every string up to `length` characters over `alphabet`. */
function stringsOver(alphabet: readonly string[], length: number): string[] {
  let level = [""];
  const all = [""];
  for (let i = 0; i < length; i++) {
    level = level.flatMap((prefix) => alphabet.map((char) => prefix + char));
    all.push(...level);
  }
  return all;
}

// The characters that could make two ids collide: separators, tag braces, the
// escape character and what its escapes look like, lone and paired surrogates.
const TRICKY = [":", "{", "}", "%", "3", "A", "u", "\uD800", "\uDC00", "é", "😀"];

describe("escapeId", () => {
  const ids = stringsOver(TRICKY, 3);

  it("gives distinct ids distinct escapes", () => {
    expect(new Set(ids.map(escapeId)).size).toBe(ids.length);
  });

  it("never yields the key separator, hash tag braces or a lone surrogate", () => {
    for (const id of ids) {
      const escaped = escapeId(id);
      expect(escaped).not.toMatch(/[:{}]/);
      expect(survivesUtf8(escaped)).toBe(true);
    }
  });

  it("leaves ordinary ids as they are", () => {
    expect(escapeId("01HX3Y5Z7QK2M4N6P8R0S2T4V6")).toBe("01HX3Y5Z7QK2M4N6P8R0S2T4V6");
    expect(escapeId("airflow-dag_run.2024-01-01T00.00.00+00.00")).toBe("airflow-dag_run.2024-01-01T00.00.00+00.00");
    expect(escapeId("é😀")).toBe("é😀");
  });

  it("handles a 100 KB id", () => {
    const huge = ":{}%".repeat(25_000);
    expect(escapeId(huge)).toBe("%3A%7B%7D%25".repeat(25_000));
  });
});

describe("jobSetKeys", () => {
  it("gives every distinct (queue, job set) its own keys", () => {
    const ids = stringsOver(TRICKY, 2);
    const owners = new Map<string, string>();
    for (const queue of ids) {
      for (const jobSetId of ids) {
        const key = jobSetKeys({ queue, jobSetId }).jobs;
        const owner = JSON.stringify([queue, jobSetId]);
        expect(owners.get(key) ?? owner).toBe(owner);
        owners.set(key, owner);
      }
    }
    expect(owners.size).toBe(ids.length * ids.length);
  });

  it("keeps ids that differ only in where a colon falls apart", () => {
    expect(jobSetKeys({ queue: "a:b", jobSetId: "c" }).jobs).not.toBe(jobSetKeys({ queue: "a", jobSetId: "b:c" }).jobs);
    expect(jobSetKeys({ queue: "a}", jobSetId: "{b" }).jobs).not.toBe(jobSetKeys({ queue: "a", jobSetId: "b" }).jobs);
  });

  it("puts all of a job set's keys in one Redis Cluster slot, keyed by its hash tag", () => {
    for (const [queue, jobSetId] of [
      ["q", "s"],
      ["a:b", "{c}"],
      ["é😀", "%3A"],
      ["", ""],
      ["x".repeat(100_000), "\uD800"],
    ] as const) {
      const keys = jobSetKeys({ queue, jobSetId });
      const slots = new Set([keys.jobs, keys.lease].map(clusterSlot));
      expect(slots.size).toBe(1);
      expect(keys.jobs).toContain(`{${jobSetTag({ queue, jobSetId })}}`);
      expect(new Set([keys.jobs, keys.lease]).size).toBe(2);
    }
  });

  it("spreads different job sets over slots", () => {
    const slots = new Set(Array.from({ length: 100 }, (_, i) => clusterSlot(jobSetKeys({ queue: "q", jobSetId: `run-${i}` }).jobs)));
    expect(slots.size).toBeGreaterThan(90);
  });

  it("computes slots the way the Cluster specification's example does", () => {
    expect(crc16(new TextEncoder().encode("123456789"))).toBe(0x31c3);
    expect(clusterSlot("foo{bar}baz")).toBe(clusterSlot("bar"));
  });
});

describe("jobField", () => {
  it("keeps job ids distinct even where UTF-8 could not", () => {
    expect(jobField("\uD800")).not.toBe(jobField("\uFFFD"));
    expect(survivesUtf8(jobField("\uD800"))).toBe(true);
  });
});
