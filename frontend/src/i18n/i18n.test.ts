// English and Simplified Chinese must hold the same keys (plural forms
// aside: English has `_one` and `_other`, Chinese only `_other`), and every
// key the source names literally must exist.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import en from "./en.json";
import zhCN from "./zh-CN.json";

type Tree = { [key: string]: string | Tree };

/** Every leaf key, plural suffixes folded into their base key. */
export function keysOf(tree: Tree, prefix = ""): Set<string> {
  const out = new Set<string>();
  for (const [k, v] of Object.entries(tree)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "string") out.add(path.replace(/_(zero|one|two|few|many|other)$/, ""));
    else for (const sub of keysOf(v, path)) out.add(sub);
  }
  return out;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|tsx)$/.test(name) && !name.endsWith(".d.ts") && !name.includes(".test.") ? [path] : [];
  });
}

describe("translations", () => {
  const enKeys = keysOf(en as Tree);
  const zhKeys = keysOf(zhCN as Tree);

  it("has every English key in Chinese and the reverse", () => {
    expect([...enKeys].filter((k) => !zhKeys.has(k))).toEqual([]);
    expect([...zhKeys].filter((k) => !enKeys.has(k))).toEqual([]);
  });

  it("has no empty translation", () => {
    const empty = (tree: Tree, prefix = ""): string[] =>
      Object.entries(tree).flatMap(([k, v]) =>
        typeof v === "string" ? (v.trim() ? [] : [`${prefix}${k}`]) : empty(v, `${prefix}${k}.`),
      );
    expect(empty(en as Tree)).toEqual([]);
    expect(empty(zhCN as Tree)).toEqual([]);
  });

  it("defines every key the source names", () => {
    const namespaces = Object.keys(en).join("|");
    const literal = new RegExp(`["'\`]((?:${namespaces})\\.[A-Za-z0-9_.-]+)["'\`]`, "g");
    const missing = new Set<string>();
    for (const file of sourceFiles(join(dirname(fileURLToPath(import.meta.url)), ".."))) {
      for (const match of readFileSync(file, "utf8").matchAll(literal)) {
        const key = match[1] ?? "";
        // Skip template prefixes (`nav.${key}`) and file names (`logs.ts`).
        if (key.endsWith(".") || /\.(ts|tsx|json|css)$/.test(key)) continue;
        if (!enKeys.has(key)) missing.add(`${key} (${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});
