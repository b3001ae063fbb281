// The limits page against a fake admin API: the budget standings, the
// whole-section PATCH bodies the editors send, the API's field errors on
// the row they name, and what a viewer may not do.
import "../../test/fetchMock";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import type { BudgetsView } from "../../api/budgets";
import type { Settings } from "../../api/settings";
import { formatTime } from "../../lib/format";
import { apiError, calls, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { SETTINGS } from "../settings/settingsFixture";
import { LimitsPage } from "./LimitsPage";

const STANDINGS: BudgetsView = {
  enabled: true,
  backend: "memory",
  timezone: "Europe/Berlin",
  budgets: [
    {
      scope: "user:alice",
      period: "daily",
      limit_usd: "5",
      spent_usd: "4.2",
      reserved_usd: "0.3",
      remaining_usd: "0.5",
      period_start: "2026-12-03T23:00:00Z",
      resets_at: "2026-12-04T23:00:00Z",
      warn_at_usd: "4",
      warning: true,
      exhausted: false,
    },
    {
      scope: "key:sk-ab12",
      period: "total",
      limit_usd: "250.5",
      spent_usd: "250.5",
      reserved_usd: "0",
      remaining_usd: "0",
      period_start: "1970-01-01T00:00:00Z",
      resets_at: null,
      warn_at_usd: null,
      warning: false,
      exhausted: true,
    },
  ],
};

const patches = () => calls.filter((c) => c.method === "PATCH").map((c) => c.body);

beforeEach(() => {
  resetApi();
  mockApi("GET", "/admin/api/settings", () => SETTINGS);
  mockApi("GET", "/admin/api/budgets", () => STANDINGS);
});

describe("LimitsPage", () => {
  it("lists where each budget stands, with its badges and local reset time", async () => {
    await renderAs("admin", <LimitsPage />);
    const table = await screen.findByRole("table", { name: "Budget standings" });
    const rows = within(table).getAllByRole("row");
    expect(rows).toHaveLength(3);
    // Sorted by scope: the key first.
    const [key, alice] = [rows[1], rows[2]].map((r) => within(r as HTMLElement));
    expect(key?.getByText("sk-ab12")).toBeInTheDocument();
    expect(key?.getByText("Total")).toBeInTheDocument();
    expect(key?.getByText("Never")).toBeInTheDocument();
    expect(key?.getByText("Exhausted")).toBeInTheDocument();
    expect(alice?.getByText("alice")).toBeInTheDocument();
    expect(alice?.getByText("Daily")).toBeInTheDocument();
    expect(alice?.getByText("$4.2")).toBeInTheDocument();
    expect(alice?.getByText("$0.3")).toBeInTheDocument();
    expect(alice?.getByText("$0.5")).toBeInTheDocument();
    expect(alice?.getByText(formatTime("2026-12-04T23:00:00Z", "en"))).toBeInTheDocument();
    expect(alice?.getByText("Warning")).toBeInTheDocument();
    expect(screen.getByText(/Periods in Europe\/Berlin/)).toBeInTheDocument();
  });

  it("explains how to set budgets when none is set, and refreshes", async () => {
    const user = userEvent.setup();
    mockApi("GET", "/admin/api/budgets", () => ({ enabled: false, budgets: [] }));
    await renderAs("admin", <LimitsPage />);
    expect(await screen.findByText(/No budget is set/)).toBeInTheDocument();
    expect(screen.queryByRole("table", { name: "Budget standings" })).toBeNull();
    mockApi("GET", "/admin/api/budgets", () => STANDINGS);
    await user.click(screen.getByRole("button", { name: "Refresh" }));
    expect(await screen.findByRole("table", { name: "Budget standings" })).toBeInTheDocument();
  });

  it("saves the whole budgets section, then reloads the standings", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("PATCH", "/admin/api/settings", (c) => ({
      ...SETTINGS,
      ...(c.body as Partial<Settings>),
    }));
    await renderAs("admin", <LimitsPage />);
    const form = await screen.findByRole("form", { name: "Budgets" });
    expect(within(form).getByLabelText("Name or key prefix of budget 1")).toHaveValue("alice");
    const timezone = within(form).getByLabelText("Time zone");
    await user.clear(timezone);
    await user.type(timezone, "Asia/Tokyo");
    await user.click(within(form).getByRole("button", { name: "Add a budget" }));
    await user.selectOptions(within(form).getByLabelText("Kind of budget 3"), "key");
    await user.type(within(form).getByLabelText("Name or key prefix of budget 3"), "sk-cd34");
    await user.type(within(form).getByLabelText("Weekly USD of budget 3"), "12.50");
    await user.type(within(form).getByLabelText("Warn at % of budget 3"), "90");
    await user.click(within(form).getByRole("button", { name: "Remove budget 1" }));
    const budgetsBefore = calls.filter((c) => c.path === "/admin/api/budgets").length;
    await user.click(within(form).getByRole("button", { name: "Save budgets" }));
    await waitFor(() => expect(patches()).toHaveLength(1));
    expect(patches()[0]).toEqual({
      budgets: {
        timezone: "Asia/Tokyo",
        unpriced: "refuse",
        keys: {
          "sk-ab12": { monthly_usd: "100", total_usd: "250.5" },
          "sk-cd34": { weekly_usd: "12.50", warn_at_percent: 90 },
        },
      },
    });
    expect(await screen.findByText("Budgets saved.")).toBeInTheDocument();
    await waitFor(() =>
      expect(calls.filter((c) => c.path === "/admin/api/budgets").length).toBeGreaterThan(budgetsBefore),
    );
  });

  it("checks amounts before sending, and shows the API's field error on its row", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("PATCH", "/admin/api/settings", () =>
      apiError(400, "budgets.users.alice.daily_usd: too large by test", "budgets.users.alice.daily_usd"),
    );
    await renderAs("admin", <LimitsPage />);
    const form = await screen.findByRole("form", { name: "Budgets" });
    const daily = within(form).getByLabelText("Daily USD of budget 1");
    await user.clear(daily);
    await user.type(daily, "0");
    expect(await within(form).findByText("Must be above 0 (leave it empty for no budget).")).toBeInTheDocument();
    await user.click(within(form).getByRole("button", { name: "Save budgets" }));
    expect(patches()).toEqual([]);
    await user.clear(daily);
    await user.type(daily, "7");
    await user.click(within(form).getByRole("button", { name: "Save budgets" }));
    await waitFor(() => expect(daily).toHaveAttribute("aria-invalid", "true"));
    expect(within(form).getByText("budgets.users.alice.daily_usd: too large by test")).toBeInTheDocument();
    expect(within(form).getByLabelText("Monthly USD of budget 2")).toHaveAttribute("aria-invalid", "false");
  });

  it("saves the whole rate-limits section", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("PATCH", "/admin/api/settings", (c) => ({ ...SETTINGS, ...(c.body as Partial<Settings>) }));
    await renderAs("admin", <LimitsPage />);
    const form = await screen.findByRole("form", { name: "Rate limits" });
    expect(within(form).queryByLabelText("Redis URL")).toBeNull();
    await user.selectOptions(within(form).getByLabelText("Store"), "redis");
    await user.type(within(form).getByLabelText("Redis URL"), "redis://cache:6379/2");
    await user.type(within(form).getByLabelText("Tokens per window"), "500000");
    await user.click(within(form).getByRole("button", { name: "Add a limit" }));
    await user.selectOptions(within(form).getByLabelText("Kind of limit 3"), "model");
    await user.type(within(form).getByLabelText("Name or key prefix of limit 3"), "gpt-4.1");
    await user.type(within(form).getByLabelText("Requests of limit 3"), "500");
    await user.click(within(form).getByRole("button", { name: "Save rate limits" }));
    await waitFor(() => expect(patches()).toHaveLength(1));
    expect(patches()[0]).toEqual({
      rate_limits: {
        backend: "redis",
        redis_url: "redis://cache:6379/2",
        window_secs: 60,
        global: { rpm: 6000, tpm: 500000 },
        providers: { openai: { tpm: 2000000 } },
        models: { "gpt-4.1": { rpm: 500 } },
        keys: { "sk-ab12": { rpm: 60, concurrent: 2 } },
      },
    });
  });

  it("shows the API's field error on a rate-limit row named with dots", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("PATCH", "/admin/api/settings", () => apiError(400, "refused by test", "rate_limits.models.gpt-4.1.rpm"));
    await renderAs("admin", <LimitsPage />);
    const form = await screen.findByRole("form", { name: "Rate limits" });
    await user.click(within(form).getByRole("button", { name: "Add a limit" }));
    await user.selectOptions(within(form).getByLabelText("Kind of limit 3"), "model");
    await user.type(within(form).getByLabelText("Name or key prefix of limit 3"), "gpt-4.1");
    await user.type(within(form).getByLabelText("Requests of limit 3"), "5");
    await user.click(within(form).getByRole("button", { name: "Save rate limits" }));
    const rpm = within(form).getByLabelText("Requests of limit 3");
    await waitFor(() => expect(rpm).toHaveAttribute("aria-invalid", "true"));
    expect(within(form).getByText("refused by test")).toBeInTheDocument();
  });

  it("gives a viewer the standings and read-only editors", async () => {
    await renderAs("viewer", <LimitsPage />);
    await screen.findByRole("table", { name: "Budget standings" });
    const budgets = await screen.findByRole("form", { name: "Budgets" });
    expect(within(budgets).getByLabelText("Daily USD of budget 1")).toBeDisabled();
    expect(
      within(screen.getByRole("form", { name: "Rate limits" })).getByLabelText("Requests per window"),
    ).toBeDisabled();
    expect(screen.queryByRole("button", { name: /^Save/ })).toBeNull();
    expect(screen.queryByRole("button", { name: /^Add/ })).toBeNull();
    expect(screen.queryByRole("button", { name: /^Remove/ })).toBeNull();
    expect(screen.getByRole("button", { name: "Refresh" })).toBeEnabled();
  });
});
