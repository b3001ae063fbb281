// The OAuth pieces' logic: what a login sends, where the API's errors go,
// what a device poll leads to, how accounts and quota windows read.
import { describe, expect, it } from "vitest";
import type { Credential } from "../../api/credentials";
import { ApiError } from "../../api/errors";
import type { LoginDone } from "../../api/oauth";
import {
  accountOf,
  importHintKey,
  placeError,
  pollOutcome,
  quotaProblem,
  resetIso,
  saveBody,
  usedPercent,
  usedTone,
  windowLength,
} from "./oauthLogic";

const CREDENTIAL: Credential = {
  id: 7,
  provider: "claude-max",
  name: "max-example.com",
  kind: "oauth",
  masked: "oauth max@example.com",
  enabled: true,
  weight: 1,
  state: "ok",
  oauth: {
    account: { email: "max@example.com", account_id: "acc-1", plan: "max", project_id: "proj-9" },
    expires_at: "2026-12-04T20:00:00Z",
    refreshable: true,
    disabled_reason: null,
  },
};

describe("saveBody", () => {
  it("sends name and weight only when given, checked as the API checks them", () => {
    expect(saveBody({ name: "", weight: "" })).toEqual({ body: {}, errors: {} });
    expect(saveBody({ name: " work ", weight: "3" })).toEqual({ body: { name: "work", weight: 3 }, errors: {} });
    expect(saveBody({ name: "Work Account", weight: "0" }).errors).toEqual({
      name: "validation.name",
      weight: "validation.weight",
    });
    expect(saveBody({ name: "", weight: "1.5" }).errors).toEqual({ weight: "validation.weight" });
  });
});

describe("placeError", () => {
  it("puts field errors on their field, state errors apart, the rest on the form", () => {
    expect(placeError(new ApiError(400, "invalid", "no code in it", "callback"))).toEqual({
      on: "callback",
      message: "no code in it",
    });
    expect(placeError(new ApiError(400, "invalid", "unknown or expired login", "state"))).toEqual({
      on: "state",
      message: "unknown or expired login",
    });
    expect(placeError(new ApiError(400, "invalid", "claudeAiOauth.accessToken: missing", "content")).on).toBe(
      "content",
    );
    expect(placeError(new ApiError(502, "upstream", "invalid_grant"))).toEqual({
      on: "form",
      message: "invalid_grant",
      upstream: true,
    });
    expect(placeError(new ApiError(409, "conflict", "not running", "redirect_uri"))).toEqual({
      on: "form",
      message: "not running",
      upstream: false,
    });
    expect(placeError(new Error("offline"))).toEqual({ on: "form", message: "offline", upstream: false });
  });
});

describe("pollOutcome", () => {
  const done: LoginDone = { status: "created", credential: CREDENTIAL };

  it("keeps polling while pending, never faster than the interval", () => {
    expect(pollOutcome({ status: "pending", retry_after_secs: 10 }, 5)).toEqual({ next: "wait", seconds: 10 });
    expect(pollOutcome({ status: "pending", retry_after_secs: 1 }, 5)).toEqual({ next: "wait", seconds: 5 });
  });

  it("ends with the credential, or says the code expired, or failed", () => {
    expect(pollOutcome(done, 5)).toEqual({ next: "done", result: done });
    expect(pollOutcome({ error: new ApiError(400, "invalid", "the device code expired", "state") }, 5)).toEqual({
      next: "expired",
      message: "the device code expired",
    });
    const vendor = new ApiError(502, "upstream", "vendor down");
    expect(pollOutcome({ error: vendor }, 5)).toEqual({ next: "failed", error: vendor });
  });
});

describe("accounts", () => {
  it("reads e-mail, plan, project, expiry and a dead refresh token", () => {
    expect(accountOf(CREDENTIAL, Date.parse("2026-12-04T19:00:00Z"))).toEqual({
      email: "max@example.com",
      plan: "max",
      project: "proj-9",
      accountId: "acc-1",
      expiresAt: "2026-12-04T20:00:00Z",
      expired: false,
      refreshable: true,
      dead: null,
    });
    const dead = accountOf(
      {
        ...CREDENTIAL,
        oauth: {
          account: { account_id: "acc-2" },
          expires_at: "2026-12-04T18:00:00Z",
          refreshable: false,
          disabled_reason: "invalid_grant",
        },
      },
      Date.parse("2026-12-04T19:00:00Z"),
    );
    expect(dead).toMatchObject({ email: null, accountId: "acc-2", expired: true, refreshable: false });
    expect(dead?.dead).toBe("invalid_grant");
    expect(accountOf({ ...CREDENTIAL, oauth: null })).toBeNull();
  });

  it("names the file each kind imports", () => {
    expect(importHintKey("codex")).toBe("oauth.import.hint.codex");
    expect(importHintKey("claudecode")).toBe("oauth.import.hint.claudecode");
    expect(importHintKey("geminicli")).toBe("oauth.import.hint.geminicli");
    expect(importHintKey("antigravity")).toBe("oauth.import.hint.antigravity");
    expect(importHintKey("openai")).toBe("oauth.import.hint.other");
  });
});

describe("quota windows", () => {
  it("clamps usage, colours it, and reads reset times and lengths", () => {
    expect(usedPercent({ name: "x", used_percent: 12.5 })).toBe(12.5);
    expect(usedPercent({ name: "x", used_percent: 130 })).toBe(100);
    expect(usedPercent({ name: "x" })).toBeNull();
    expect([usedTone(10), usedTone(75), usedTone(95)]).toEqual(["green", "amber", "red"]);
    expect(resetIso({ name: "x", resets_at: 1_796_414_400 })).toBe("2026-12-04T20:00:00.000Z");
    expect(resetIso({ name: "x" })).toBeNull();
    expect(windowLength(18_000)).toEqual({ count: 5, unit: "hours" });
    expect(windowLength(604_800)).toEqual({ count: 7, unit: "days" });
    expect(windowLength(90)).toEqual({ count: 2, unit: "minutes" });
    expect(windowLength(undefined)).toBeNull();
  });

  it("tells a kind without quota from a vendor failure", () => {
    expect(quotaProblem(new ApiError(400, "invalid", "codex has no quota endpoint")).key).toBe("oauth.quota.none");
    expect(quotaProblem(new ApiError(502, "upstream", "HTTP 500 from vendor"))).toEqual({
      key: "oauth.quota.vendor",
      message: "HTTP 500 from vendor",
    });
    expect(quotaProblem(new ApiError(404, "not_found", "no credential 7")).key).toBeNull();
  });
});
