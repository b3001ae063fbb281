// Generates src/api/schema.d.ts from openapi.json (the snapshot of the admin
// API's document that a Rust test keeps current). The file is written only
// when its content changes, so an unchanged API never looks like a changed
// source to the build (cargo's rerun-if-changed, vite, tsc -b).
import { readFile, writeFile } from "node:fs/promises";
import openapiTS, { astToString } from "openapi-typescript";

const source = new URL("../openapi.json", import.meta.url);
const target = new URL("../src/api/schema.d.ts", import.meta.url);

// `defaultNonNullable: false`: a property with a default (the PATCH
// fields whose `null` clears a value) stays optional, as the API treats it.
const ast = await openapiTS(JSON.parse(await readFile(source, "utf8")), { defaultNonNullable: false });
const text =
  "// Generated from openapi.json by scripts/gen-api.mjs; do not edit.\n" +
  "// Regenerate: npm run gen:api (every build, typecheck and test run does).\n\n" +
  astToString(ast);
const current = await readFile(target, "utf8").catch(() => null);
if (current !== text) {
  await writeFile(target, text);
  console.log("gen:api: wrote src/api/schema.d.ts");
}
