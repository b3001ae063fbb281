// The audit filters: drafts to query parameters, and the range check.
import { describe, expect, it } from "vitest";
import { draftErrors, draftOf, filtersOf } from "./auditFilters";

describe("audit filters", () => {
  it("sends only what was typed, trimmed, times in UTC", () => {
    const d = { ...draftOf({}), actor: " alice ", action: "key.create", from: "2026-01-02T03:04" };
    expect(filtersOf(d)).toEqual({
      actor: "alice",
      action: "key.create",
      target_type: undefined,
      target_id: undefined,
      from: new Date("2026-01-02T03:04").toISOString(),
      to: undefined,
    });
  });

  it("refuses a range that ends before it starts, on the To field", () => {
    expect(draftErrors(draftOf({}))).toEqual({});
    const d = { ...draftOf({}), from: "2026-01-02T03:04", to: "2026-01-01T00:00" };
    expect(draftErrors(d)).toEqual({ to: "audit.toBeforeFrom" });
    expect(draftErrors({ ...d, to: "2026-01-03T00:00" })).toEqual({});
  });
});
