// The settings sections' checks, conversion to PATCH bodies and the
// mapping of the API's field paths.
import { describe, expect, it } from "vitest";
import { SETTINGS } from "./settingsFixture";
import { formField, intError, originError, proxyError, sectionSchema, toPatch, valuesOf } from "./settingsSchema";

function issues(section: Parameters<typeof sectionSchema>[0], values: Record<string, string | boolean>) {
  const r = sectionSchema(section).safeParse(values);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("settings checks", () => {
  it("takes whole numbers within bounds; empty keeps the value", () => {
    expect(intError("", 1, 10)).toBeNull();
    expect(intError("5", 1, 10)).toBeNull();
    expect(intError("0", 1, 10)).toBe("settings.errors.positive");
    expect(intError("11", 0, 10)).toBe("settings.errors.max");
    expect(intError("1.5", 0, 10)).toBe("settings.errors.int");
  });

  it("checks origins and proxies like the gateway", () => {
    expect(originError("*")).toBeNull();
    expect(originError("https://app.example.com")).toBeNull();
    expect(originError("http://localhost:3000")).toBeNull();
    expect(originError("https://app.example.com/")).toBe("settings.errors.origin");
    expect(originError("app.example.com")).toBe("settings.errors.origin");
    expect(proxyError("")).toBeNull();
    expect(proxyError("socks5h://u:p@10.0.0.1:1080")).toBeNull();
    expect(proxyError("ftp://x")).toBe("settings.errors.proxyScheme");
    expect(proxyError("http://")).toBe("settings.errors.proxyHost");
  });

  it("puts each problem on its field", () => {
    const cb = { ...valuesOf(SETTINGS, "circuit_breaker"), max_transient_retries: "11", redis_url: "rediss://x" };
    expect(issues("circuit_breaker", cb)).toEqual([
      "max_transient_retries: settings.errors.max",
      "redis_url: settings.errors.redisUrl",
    ]);
    const logging = {
      ...valuesOf(SETTINGS, "logging"),
      redact_headers: "authorization\nbad header",
      retention_days: "4000",
    };
    expect(issues("logging", logging)).toEqual([
      "redact_headers: validation.headerName",
      "retention_days: settings.errors.max",
    ]);
    expect(issues("cors", { allowed_origins: "*", allow_credentials: true, max_age_secs: "600" })).toEqual([
      "allow_credentials: settings.errors.credentialsStar",
    ]);
  });
});

describe("settings bodies", () => {
  it("sends one section, numbers as numbers, lines as lists", () => {
    const values = {
      ...valuesOf(SETTINGS, "logging"),
      redact_headers: " authorization \n\nx-secret\n",
      retention_days: "30",
    };
    expect(toPatch("logging", values)).toEqual({
      logging: {
        record_requests: true,
        capture_bodies: false,
        max_body_bytes: undefined,
        redact_headers: ["authorization", "x-secret"],
        retention_days: 30,
      },
    });
    expect(Object.keys(toPatch("limits", valuesOf(SETTINGS, "limits")))).toEqual(["limits"]);
  });

  it("sends the proxy only when it changed; empty removes it", () => {
    expect(toPatch("proxy", valuesOf(SETTINGS, "proxy"), false)).toEqual({});
    expect(toPatch("proxy", { proxy: "" })).toEqual({ proxy: null });
    expect(toPatch("proxy", { proxy: " socks5://h:1080 " })).toEqual({ proxy: "socks5://h:1080" });
  });

  it("keeps the metrics token write-only: empty keeps the stored one", () => {
    expect(valuesOf(SETTINGS, "metrics").token).toBe("");
    expect(toPatch("metrics", valuesOf(SETTINGS, "metrics"))).toEqual({
      metrics: { enabled: true, per_key_labels: false, max_models: 200 },
    });
    expect(toPatch("metrics", { ...valuesOf(SETTINGS, "metrics"), token: " s3cret " })).toEqual({
      metrics: { enabled: true, per_key_labels: false, max_models: 200, token: "s3cret" },
    });
    expect(issues("metrics", { ...valuesOf(SETTINGS, "metrics"), max_models: "0" })).toHaveLength(1);
  });

  it("maps the API's field paths into the section", () => {
    expect(formField("limits", "limits.max_body_bytes")).toBe("max_body_bytes");
    expect(formField("cors", "cors.allowed_origins[2]")).toBe("allowed_origins");
    expect(formField("logging", "cors.max_age_secs")).toBeNull();
    expect(formField("proxy", "proxy")).toBe("proxy");
  });
});
