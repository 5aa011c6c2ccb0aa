import type { DescField, DescMessage, Message } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/**
 * A message as Armada's REST gateway writes it: grpc-gateway's JSONBuiltin
 * marshaller, which is Go's encoding/json over gogo-generated structs. So:
 * camelCase names, `omitempty` on every field (zero scalars, zero enums,
 * empty lists and maps, absent messages are left out), enums and 64-bit
 * integers as JSON numbers, timestamps as `{"seconds": …, "nanos": …}`;
 * map values are kept even when zero.
 */
export function gatewayJson(schema: DescMessage, message: Message): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  const record = message as unknown as Record<string, unknown>;
  for (const field of schema.fields) {
    const value = fieldJson(field, record[field.localName]);
    if (value !== undefined) out[field.jsonName] = value;
  }
  return out;
}

function fieldJson(field: DescField, value: unknown): Json | undefined {
  switch (field.fieldKind) {
    case "scalar":
      return isZero(value) ? undefined : scalarJson(field.scalar, value);
    case "enum":
      return value === 0 ? undefined : (value as number);
    case "message":
      return value === undefined ? undefined : messageJson(field.message, value as Message);
    case "list": {
      const items = value as unknown[];
      if (items.length === 0) return undefined;
      return items.map((item) =>
        field.listKind === "message"
          ? messageJson(field.message, item as Message)
          : field.listKind === "enum"
            ? (item as number)
            : scalarJson(field.scalar, item),
      );
    }
    case "map": {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0) return undefined;
      return Object.fromEntries(
        entries.map(([key, item]) => [
          key,
          field.mapKind === "message"
            ? messageJson(field.message, item as Message)
            : field.mapKind === "enum"
              ? (item as number)
              : scalarJson(field.scalar, item),
        ]),
      );
    }
  }
}

function messageJson(schema: DescMessage, message: Message): Json {
  if (schema.typeName === "google.protobuf.Timestamp") {
    const { seconds, nanos } = message as unknown as { seconds: bigint; nanos: number };
    return { ...(seconds !== 0n && { seconds: Number(seconds) }), ...(nanos !== 0 && { nanos }) };
  }
  return gatewayJson(schema, message);
}

function scalarJson(type: ScalarType, value: unknown): Json {
  if (typeof value === "bigint") return Number(value);
  if (type === ScalarType.BYTES) return Buffer.from(value as Uint8Array).toString("base64");
  return value as Json;
}

function isZero(value: unknown): boolean {
  return value === 0 || value === 0n || value === "" || value === false || (value instanceof Uint8Array && value.length === 0);
}
