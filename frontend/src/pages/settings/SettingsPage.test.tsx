// The settings page against a fake admin API: sections save alone, the
// API's field errors land on their field, viewers cannot change anything.
import "../../test/fetchMock";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { apiError, calls, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { SettingsPage } from "./SettingsPage";
import { SETTINGS } from "./settingsFixture";

beforeEach(() => {
  resetApi();
  mockApi("GET", "/admin/api/settings", () => SETTINGS);
});

describe("SettingsPage", () => {
  it("shows every section with the stored values", async () => {
    await renderAs("admin", <SettingsPage />);
    const limits = await screen.findByRole("form", { name: "Limits" });
    expect(within(limits).getByLabelText("Connect timeout (s)")).toHaveValue("10");
    const proxy = screen.getByRole("form", { name: "Egress proxy" });
    expect(within(proxy).getByLabelText("Proxy URL")).toHaveValue("http://user:***@proxy.local:3128");
    expect(
      within(screen.getByRole("form", { name: "Request logging" })).getByLabelText("Redacted headers"),
    ).toHaveValue("authorization\ncookie");
  });

  it("saves one section and shows the API's field error next to its field", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("PATCH", "/admin/api/settings", (c) => {
      const body = c.body as { logging?: { retention_days?: number } };
      if (body.logging?.retention_days === 7) return apiError(400, "7: refused by test", "logging.retention_days");
      return { ...SETTINGS, logging: { ...SETTINGS.logging, ...body.logging } };
    });
    await renderAs("admin", <SettingsPage />);
    const logging = await screen.findByRole("form", { name: "Request logging" });
    const retention = within(logging).getByLabelText("Retention (days)");
    await user.clear(retention);
    await user.type(retention, "99999");
    expect(await within(logging).findByText("Too large.")).toBeInTheDocument();
    await user.clear(retention);
    await user.type(retention, "7");
    await user.click(within(logging).getByRole("button", { name: "Save" }));
    await waitFor(() => expect(retention).toHaveAttribute("aria-invalid", "true"));
    expect(within(logging).getByText("7: refused by test")).toBeInTheDocument();
    await user.clear(retention);
    await user.type(retention, "30");
    await user.click(within(logging).getByRole("button", { name: "Save" }));
    await waitFor(() => expect(calls.filter((c) => c.method === "PATCH")).toHaveLength(2));
    const last = calls.filter((c) => c.method === "PATCH")[1]?.body as Record<string, unknown>;
    expect(Object.keys(last)).toEqual(["logging"]);
    expect(last.logging).toMatchObject({ retention_days: 30, redact_headers: ["authorization", "cookie"] });
  });

  it("gives a viewer disabled controls and no save buttons", async () => {
    await renderAs("viewer", <SettingsPage />);
    const limits = await screen.findByRole("form", { name: "Limits" });
    expect(within(limits).getByLabelText("Connect timeout (s)")).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Save" })).toBeNull();
  });

  it("says when the settings could not be loaded", async () => {
    mockApi("GET", "/admin/api/settings", () => apiError(403, "role not allowed"));
    await renderAs("admin", <SettingsPage />);
    expect(await screen.findByText(/role not allowed/)).toBeInTheDocument();
  });
});
