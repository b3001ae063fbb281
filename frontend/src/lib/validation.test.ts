// The form rules mirror the gateway's; these cases are the gateway's own
// (crates/gproxy-protocol/src/json_mask_tests.rs and config.rs).
import { describe, expect, it } from "vitest";
import { baseUrlError, headerNameError, maskPathError, nameSchema, passwordSchema } from "./validation";

describe("json_param_mask paths", () => {
  it("accepts what the gateway accepts", () => {
    for (const path of [
      "temperature",
      "messages[1].content",
      "messages.1.content",
      "metadata.a.b.c",
      "messages[1].content[0].text",
      'metadata["user.id"]',
      '["metadata"]["user.id"]',
      "messages[*].name",
      "messages.*.name",
      '["a\\"b"]',
      "/a/b",
      "/a~1b/m~0n",
    ]) {
      expect(maskPathError(path), path).toBeNull();
    }
  });

  it("refuses what the gateway refuses, saying why", () => {
    const cases: [string, string][] = [
      ["", "validation.mask.empty"],
      ["a..b", "validation.mask.unexpected"],
      ["a.", "validation.mask.missingKey"],
      [".a", "validation.mask.unexpected"],
      ["a[", "validation.mask.bracket"],
      ["a[x]", "validation.mask.bracket"],
      ["a[1", "validation.mask.closeBracket"],
      ['a["b]', "validation.mask.unterminated"],
      ["a]", "validation.mask.unexpected"],
      ["a[99999999999999999999999]", "validation.mask.indexTooLarge"],
      ['a["\\n"]', "validation.mask.escape"],
      ["/a~2", "validation.mask.pointer"],
    ];
    for (const [path, key] of cases) expect(maskPathError(path)?.key, path).toBe(key);
    expect(maskPathError("a..b")?.values).toEqual({ char: "." });
  });
});

describe("other rules", () => {
  it("base URLs are http(s) with a host and no query", () => {
    expect(baseUrlError("https://api.example.com/v1")).toBeNull();
    expect(baseUrlError("http://127.0.0.1:8080")).toBeNull();
    expect(baseUrlError("ftp://example.com")).toBe("validation.urlScheme");
    expect(baseUrlError("https://x.com/v1?a=1")).toBe("validation.urlQuery");
    expect(baseUrlError("https://x.com/#top")).toBe("validation.urlQuery");
    expect(baseUrlError("not a url")).toBe("validation.url");
  });

  it("headers the gateway owns are refused", () => {
    expect(headerNameError("x-team")).toBeNull();
    expect(headerNameError("Authorization")).toBe("validation.headerForbidden");
    expect(headerNameError("content-length")).toBe("validation.headerForbidden");
    expect(headerNameError("bad header")).toBe("validation.headerName");
    expect(headerNameError("")).toBe("validation.headerName");
  });

  it("names and passwords", () => {
    expect(nameSchema.safeParse("team-a.b_1").success).toBe(true);
    expect(nameSchema.safeParse("Team").success).toBe(false);
    expect(nameSchema.safeParse("x".repeat(65)).success).toBe(false);
    expect(passwordSchema.safeParse("1234567").success).toBe(false);
    expect(passwordSchema.safeParse("12345678").success).toBe(true);
    expect(passwordSchema.safeParse("密".repeat(8)).success).toBe(true);
    expect(passwordSchema.safeParse("x".repeat(257)).success).toBe(false);
  });
});
