// Reading a batch import: pasted keys (one per line, `#` comments) go to
// the API as text; a JSON file is an array of credentials (or an object
// with `items`) and is checked here so a bad file is named before upload.
import type { CredentialInput, ImportInput } from "../../api/credentials";

export type Parsed =
  { ok: true; input: ImportInput; count: number } | { ok: false; error: string; values?: Record<string, string> };

const FIELDS = new Set(["name", "api_key", "service_account", "enabled", "weight"]);

export function fromText(text: string): Parsed {
  const count = text.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#")).length;
  if (count === 0) return { ok: false, error: "credentials.import.nothing" };
  return { ok: true, input: { keys: text }, count };
}

export function fromJson(text: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return {
      ok: false,
      error: "credentials.import.badJson",
      values: { reason: e instanceof Error ? e.message : String(e) },
    };
  }
  const items = Array.isArray(value)
    ? value
    : typeof value === "object" && value !== null && Array.isArray((value as { items?: unknown }).items)
      ? (value as { items: unknown[] }).items
      : null;
  if (!items) return { ok: false, error: "credentials.import.notArray" };
  if (items.length === 0) return { ok: false, error: "credentials.import.nothing" };
  for (const [i, item] of items.entries()) {
    if (typeof item !== "object" || item === null || Array.isArray(item))
      return { ok: false, error: "credentials.import.notObject", values: { at: `items[${i}]` } };
    const unknown = Object.keys(item).find((k) => !FIELDS.has(k));
    if (unknown)
      return { ok: false, error: "credentials.import.unknownField", values: { at: `items[${i}].${unknown}` } };
  }
  return { ok: true, input: { items: items as CredentialInput[] }, count: items.length };
}
