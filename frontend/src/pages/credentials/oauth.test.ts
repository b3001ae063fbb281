import { describe, expect, it } from "vitest";
import { accountSummary, hasDeviceFlow, importHintKey, isOAuthKind, nextPollSecs, quotaBars } from "./oauth";

describe("OAuth kinds", () => {
  it("knows the subscription kinds and which has a device flow", () => {
    expect(["codex", "claudecode", "antigravity", "geminicli"].every(isOAuthKind)).toBe(true);
    expect(isOAuthKind("openai")).toBe(false);
    expect(isOAuthKind(undefined)).toBe(false);
    expect(hasDeviceFlow("codex")).toBe(true);
    expect(hasDeviceFlow("claudecode")).toBe(false);
    expect(importHintKey("geminicli")).toBe("oauth.importHint.geminicli");
  });

  it("summarises an account with what is known", () => {
    expect(
      accountSummary({
        account: { email: "a@b.c", plan: "pro", project_id: "p-1" },
        expires_at: "",
        refreshable: true,
        disabled_reason: null,
      }),
    ).toBe("a@b.c · pro · p-1");
    expect(
      accountSummary({ account: { account_id: "acct-1" }, expires_at: "", refreshable: false, disabled_reason: null }),
    ).toBe("acct-1");
  });

  it("turns quota windows into clamped bars with reset times", () => {
    const bars = quotaBars({
      credential_id: 1,
      fetched_at: "2026-12-04T19:00:00Z",
      windows: [
        { name: "five_hour", used_percent: 12.5, resets_at: 1796414400 },
        { name: "gemini-2.5-pro", model: "gemini-2.5-pro", used_percent: 140 },
        { name: "weekly", model: "opus" },
      ],
      raw: {},
    });
    expect(bars.map((b) => b.label)).toEqual(["five_hour", "gemini-2.5-pro", "weekly (opus)"]);
    expect(bars.map((b) => b.percent)).toEqual([12.5, 100, null]);
    expect(bars[0]?.resetsAt).toBe("2026-12-04T20:00:00.000Z");
    expect(bars[2]?.resetsAt).toBeNull();
  });

  it("never polls faster than once a second", () => {
    expect(nextPollSecs(undefined, 5)).toBe(5);
    expect(nextPollSecs(0, 5)).toBe(1);
    expect(nextPollSecs(undefined, undefined)).toBe(5);
  });
});
