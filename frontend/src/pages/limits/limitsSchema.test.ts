// The limit editors' checks, their conversion to the whole `budgets` and
// `rate_limits` sections, and the mapping of the API's field paths.
import { describe, expect, it } from "vitest";
import { SETTINGS } from "../settings/settingsFixture";
import {
  budgetsField,
  budgetsPatch,
  budgetsSchema,
  budgetsValues,
  emptyBudgetRow,
  emptyLimitRow,
  rangeError,
  rateLimitsField,
  rateLimitsPatch,
  rateLimitsSchema,
  rateLimitsValues,
  timezoneError,
  usdError,
  type BudgetsValues,
  type RateLimitsValues,
} from "./limitsSchema";

function budgetIssues(values: BudgetsValues): string[] {
  const r = budgetsSchema.safeParse(values);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

function rateIssues(values: RateLimitsValues): string[] {
  const r = rateLimitsSchema.safeParse(values);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("amount and number checks", () => {
  it("takes positive decimals of at most nine places that fit the gateway's counter", () => {
    expect(usdError("")).toBeNull();
    expect(usdError("5")).toBeNull();
    expect(usdError(" 0.000000001 ")).toBeNull();
    expect(usdError("9223372036.854775807")).toBeNull();
    expect(usdError("9223372036.854775808")).toBe("settings.errors.max");
    expect(usdError("0")).toBe("limitsPage.errors.amountZero");
    expect(usdError("0.000")).toBe("limitsPage.errors.amountZero");
    expect(usdError("0", true)).toBeNull();
    expect(usdError("0.0000000001")).toBe("validation.usd");
    expect(usdError("-1")).toBe("validation.usd");
    expect(usdError("1e3")).toBe("validation.usd");
    expect(usdError("$5")).toBe("validation.usd");
  });

  it("bounds whole numbers and knows time zones", () => {
    expect(rangeError("", 10, 20, "k")).toBeNull();
    expect(rangeError("10", 10, 20, "k")).toBeNull();
    expect(rangeError("9", 10, 20, "k")).toBe("k");
    expect(rangeError("21", 10, 20, "k")).toBe("k");
    expect(rangeError("x", 10, 20, "k")).toBe("settings.errors.int");
    expect(timezoneError("")).toBeNull();
    expect(timezoneError("Europe/Berlin")).toBeNull();
    expect(timezoneError("Mars/Olympus")).toBe("limitsPage.errors.timezone");
  });
});

describe("budgets section", () => {
  it("round-trips the stored section, users before keys", () => {
    const values = budgetsValues(SETTINGS.budgets);
    expect(values.rows.map((r) => `${r.kind}:${r.name}`)).toEqual(["user:alice", "key:sk-ab12"]);
    expect(values.rows[0]).toMatchObject({ daily_usd: "5", warn_at_percent: "80", weekly_usd: "" });
    expect(budgetsPatch(values)).toEqual(SETTINGS.budgets);
    expect(budgetsPatch(budgetsValues({}))).toEqual({});
  });

  it("sends the Redis fields only with the redis backend", () => {
    const values: BudgetsValues = {
      ...budgetsValues({}),
      backend: "redis",
      redis_url: " redis://r:6379 ",
      redis_timeout_ms: "300",
      passthrough_cost_usd: "0",
    };
    expect(budgetsPatch(values)).toEqual({
      backend: "redis",
      redis_url: "redis://r:6379",
      redis_timeout_ms: 300,
      passthrough_cost_usd: "0",
    });
    expect(budgetsPatch({ ...values, backend: "memory" })).toEqual({ backend: "memory", passthrough_cost_usd: "0" });
  });

  it("refuses a TLS Redis URL, which the server cannot use", () => {
    const values: BudgetsValues = {
      ...budgetsValues(SETTINGS.budgets),
      backend: "redis",
      redis_url: "rediss://r:6380",
    };
    expect(budgetIssues(values)).toContain("redis_url: limitsPage.errors.redisUrl");
  });

  it("puts each problem on its field", () => {
    const values: BudgetsValues = {
      ...budgetsValues(SETTINGS.budgets),
      backend: "redis",
      redis_url: "http://r",
      timezone: "Nowhere/Town",
      default_output_tokens: "0",
      passthrough_cost_usd: "-1",
    };
    values.rows.push(
      { ...emptyBudgetRow(), name: "alice", daily_usd: "0", warn_at_percent: "100" },
      { ...emptyBudgetRow(), kind: "key", name: "alice", total_usd: "1.5" },
      { ...emptyBudgetRow(), name: " " },
    );
    expect(budgetIssues(values)).toEqual([
      "redis_url: limitsPage.errors.redisUrl",
      "timezone: limitsPage.errors.timezone",
      "default_output_tokens: limitsPage.errors.outputTokens",
      "passthrough_cost_usd: validation.usd",
      "rows.2.name: limitsPage.errors.duplicate",
      "rows.4.name: validation.required",
      "rows.2.daily_usd: limitsPage.errors.amountZero",
      "rows.2.warn_at_percent: limitsPage.errors.warn",
    ]);
    // Redis fields are not checked (nor sent) with another backend.
    expect(budgetIssues({ ...budgetsValues({}), redis_url: "nonsense", redis_timeout_ms: "0" })).toEqual([]);
  });

  it("maps the API's field paths onto the rows", () => {
    const rows = budgetsValues(SETTINGS.budgets).rows;
    rows.push({ ...emptyBudgetRow(), kind: "key", name: "sk.with.dots" });
    expect(budgetsField("budgets.users.alice.daily_usd", rows)).toBe("rows.0.daily_usd");
    expect(budgetsField("budgets.keys.sk-ab12.warn_at_percent", rows)).toBe("rows.1.warn_at_percent");
    expect(budgetsField("budgets.keys.sk.with.dots.total_usd", rows)).toBe("rows.2.total_usd");
    expect(budgetsField("budgets.keys.sk-ab12", rows)).toBe("rows.1.name");
    expect(budgetsField("budgets.timezone", rows)).toBe("timezone");
    expect(budgetsField("budgets.users.nobody.daily_usd", rows)).toBe("");
    expect(budgetsField("rate_limits.window_secs", rows)).toBe("");
  });
});

describe("rate-limits section", () => {
  it("round-trips the stored section", () => {
    const values = rateLimitsValues(SETTINGS.rate_limits);
    expect(values.global).toEqual({ rpm: "6000", tpm: "", concurrent: "" });
    expect(values.rows.map((r) => `${r.kind}:${r.name}`)).toEqual(["provider:openai", "key:sk-ab12"]);
    expect(rateLimitsPatch(values)).toEqual(SETTINGS.rate_limits);
    expect(rateLimitsPatch(rateLimitsValues({}))).toEqual({});
  });

  it("puts each problem on its field", () => {
    const values: RateLimitsValues = {
      ...rateLimitsValues(SETTINGS.rate_limits),
      backend: "redis",
      redis_url: "redis://r",
      slot_ttl_secs: "5",
      window_secs: "3601",
      global: { rpm: "0", tpm: "", concurrent: "x" },
    };
    values.rows.push({ ...emptyLimitRow(), name: "openai", rpm: "1" }, { ...emptyLimitRow(), kind: "model", name: "" });
    expect(rateIssues(values)).toEqual([
      "slot_ttl_secs: limitsPage.errors.slotTtl",
      "window_secs: limitsPage.errors.window",
      "global.rpm: settings.errors.positive",
      "global.concurrent: settings.errors.int",
      "rows.2.name: limitsPage.errors.duplicate",
      "rows.3.name: validation.required",
    ]);
  });

  it("maps the API's field paths, names with dots included", () => {
    const rows = [
      ...rateLimitsValues(SETTINGS.rate_limits).rows,
      { ...emptyLimitRow(), kind: "model" as const, name: "gpt-4.1" },
    ];
    expect(rateLimitsField("rate_limits.models.gpt-4.1.rpm", rows)).toBe("rows.2.rpm");
    expect(rateLimitsField("rate_limits.keys.sk-ab12.concurrent", rows)).toBe("rows.1.concurrent");
    expect(rateLimitsField("rate_limits.global.rpm", rows)).toBe("global.rpm");
    expect(rateLimitsField("rate_limits.redis_url", rows)).toBe("redis_url");
    expect(rateLimitsField("budgets.timezone", rows)).toBe("");
  });
});
