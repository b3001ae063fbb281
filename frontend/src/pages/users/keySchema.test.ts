import { describe, expect, it } from "vitest";
import { keySchema } from "./KeyForm";

const base = { label: "", scope: "proxy" as const, expires: "", providers: "", models: "", maxCost: "", enabled: true };

describe("key form rules", () => {
  it("takes an empty ceiling or a USD amount with at most nine decimals", () => {
    for (const ok of ["", "0.5", "12", " 0.000000001 "]) {
      expect(keySchema.safeParse({ ...base, maxCost: ok }).success, ok).toBe(true);
    }
    for (const bad of ["-1", "abc", "0.0000000001", "1,5"]) {
      const r = keySchema.safeParse({ ...base, maxCost: bad });
      expect(r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`), bad).toEqual([
        "maxCost: validation.usd",
      ]);
    }
  });
});
