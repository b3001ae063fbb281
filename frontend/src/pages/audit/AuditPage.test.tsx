// The audit page against a fake admin API: records, filters sent as
// query parameters, cursor paging, the range check and the states.
import "../../test/fetchMock";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import type { AuditRecord } from "../../api/audit";
import { apiError, calls, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { AuditPage } from "./AuditPage";

function record(id: number, action: string): AuditRecord {
  return {
    id,
    created_at: "2026-12-01T10:00:00Z",
    actor: "alice",
    actor_user_id: 1,
    action,
    target_type: "provider",
    target_id: `p${id}`,
    outcome: 200,
    client_ip: "10.0.0.9",
    detail: { fields: ["base_url"] },
  };
}

beforeEach(() => {
  resetApi();
  mockApi("GET", "/admin/api/audit", (c) =>
    c.search.get("cursor") === "next"
      ? { items: [record(1, "provider.create")], next_cursor: null }
      : { items: [record(2, "provider.update")], next_cursor: "next" },
  );
});

describe("AuditPage", () => {
  it("lists records and pages on with the cursor", async () => {
    const user = userEvent.setup();
    await renderAs("viewer", <AuditPage />);
    expect(await screen.findByText("provider.update")).toBeInTheDocument();
    expect(screen.getByText("1 record loaded")).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Load more" }));
    expect(await screen.findByText("provider.create")).toBeInTheDocument();
    expect(screen.getByText("No older records.")).toBeInTheDocument();
    expect(calls.filter((c) => c.path === "/admin/api/audit").map((c) => c.search.get("cursor"))).toEqual([
      null,
      "next",
    ]);
  });

  it("sends the filters and checks the range next to its field", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    await renderAs("admin", <AuditPage />);
    await screen.findByText("provider.update");
    const form = screen.getByRole("search", { name: "Audit filters" });
    await user.type(within(form).getByLabelText("Actor"), "bob");
    await user.type(within(form).getByLabelText("From"), "2026-01-02T03:04");
    await user.type(within(form).getByLabelText("To"), "2026-01-01T00:00");
    await user.click(within(form).getByRole("button", { name: "Apply" }));
    expect(await within(form).findByText("Must be after From.")).toBeInTheDocument();
    expect(calls).toHaveLength(2); // the session and the first page only
    await user.clear(within(form).getByLabelText("To"));
    await user.click(within(form).getByRole("button", { name: "Apply" }));
    await waitFor(() => expect(calls.filter((c) => c.search.get("actor") === "bob")).toHaveLength(1));
    const sent = calls.find((c) => c.search.get("actor") === "bob");
    expect(sent?.search.get("from")).toBe(new Date("2026-01-02T03:04").toISOString());
    expect(sent?.search.get("limit")).toBe("50");
  });

  it("says when nothing matches, and when loading failed", async () => {
    mockApi("GET", "/admin/api/audit", () => ({ items: [], next_cursor: null }));
    const { unmount } = await renderAs("admin", <AuditPage />);
    expect(await screen.findByText("No audit records match.")).toBeInTheDocument();
    unmount();
    mockApi("GET", "/admin/api/audit", () => apiError(500, "storage unavailable"));
    await renderAs("admin", <AuditPage />);
    expect(await screen.findByText(/storage unavailable/)).toBeInTheDocument();
  });
});
