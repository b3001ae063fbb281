// The routes page against a fake admin API: the list, the editor's
// requests and errors, and what a viewer may not do.
import "../../test/fetchMock";
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it } from "vitest";
import { apiError, calls, json, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { RoutesPage } from "./RoutesPage";

const SMART = {
  id: 1,
  name: "smart",
  strategy: "ordered",
  enabled: true,
  targets: [
    { provider: "claude", model: "sonnet", weight: 1 },
    { provider: "openai", model: "gpt-4o", weight: 1 },
  ],
};

beforeEach(() => {
  resetApi();
  mockApi("GET", "/admin/api/routes", () => [SMART]);
  mockApi("GET", "/admin/api/providers", () => [{ name: "claude" }, { name: "openai" }]);
});

describe("RoutesPage", () => {
  it("lists routes with their targets in order", async () => {
    await renderAs("admin", <RoutesPage />);
    expect(await screen.findByRole("cell", { name: "smart" })).toBeInTheDocument();
    expect(screen.getByText("claude/sonnet → openai/gpt-4o")).toBeInTheDocument();
  });

  it("says when there are none, and when loading failed", async () => {
    mockApi("GET", "/admin/api/routes", () => []);
    const { unmount } = await renderAs("admin", <RoutesPage />);
    expect(await screen.findByText("No model routes yet.")).toBeInTheDocument();
    unmount();
    mockApi("GET", "/admin/api/routes", () => apiError(500, "database down"));
    await renderAs("admin", <RoutesPage />);
    expect(await screen.findByText(/database down/)).toBeInTheDocument();
  });

  it("shows a viewer no write controls", async () => {
    await renderAs("viewer", <RoutesPage />);
    await screen.findByRole("cell", { name: "smart" });
    expect(screen.queryByRole("button", { name: "New route" })).toBeNull();
    expect(screen.queryByRole("button", { name: /Edit/ })).toBeNull();
    expect(screen.queryByRole("button", { name: /Delete/ })).toBeNull();
  });

  it("creates a weighted route, checking fields before sending", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/routes", (c) => json({ ...SMART, ...(c.body as object), id: 2 }, 201));
    await renderAs("admin", <RoutesPage />);
    await user.click(await screen.findByRole("button", { name: "New route" }));
    const dialog = await screen.findByRole("dialog");
    await user.type(within(dialog).getByLabelText("Model name"), "bad/name");
    await user.type(within(dialog).getByLabelText("Target 1"), "mistral/large");
    await user.click(within(dialog).getByRole("button", { name: "Create route" }));
    expect(await within(dialog).findByText("Must not contain / (that marks provider/model).")).toBeInTheDocument();
    expect(within(dialog).getByText("No provider of that name.")).toBeInTheDocument();
    expect(calls.filter((c) => c.method === "POST")).toEqual([]);

    await user.clear(within(dialog).getByLabelText("Model name"));
    await user.type(within(dialog).getByLabelText("Model name"), "mix");
    await user.selectOptions(within(dialog).getByLabelText("Strategy"), "weighted");
    await user.clear(within(dialog).getByLabelText("Target 1"));
    await user.type(within(dialog).getByLabelText("Target 1"), "openai/gpt-4o");
    await user.clear(within(dialog).getByLabelText("Weight of target 1"));
    await user.type(within(dialog).getByLabelText("Weight of target 1"), "3");
    await user.click(within(dialog).getByRole("button", { name: "Add target" }));
    await user.type(within(dialog).getByLabelText("Target 2"), "claude/sonnet");
    await user.click(within(dialog).getByRole("button", { name: "Move target 2 up" }));
    await user.click(within(dialog).getByRole("button", { name: "Create route" }));
    await waitFor(() => expect(calls.some((c) => c.method === "POST")).toBe(true));
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      name: "mix",
      enabled: true,
      targets: [
        { target: "claude/sonnet", weight: 1 },
        { target: "openai/gpt-4o", weight: 3 },
      ],
    });
  });

  it("puts the API's field error next to the target it names", async () => {
    const user = userEvent.setup();
    mockApi("PUT", "/admin/api/routes/smart", () => apiError(400, "no provider `openai`", "targets[1]"));
    await renderAs("admin", <RoutesPage />);
    await screen.findByRole("cell", { name: "smart" });
    await user.click(await screen.findByRole("button", { name: /^Edit\s*smart$/ }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Save" }));
    const input = within(dialog).getByLabelText("Target 2");
    await waitFor(() => expect(input).toHaveAttribute("aria-invalid", "true"));
    expect(within(dialog).getByText("no provider `openai`")).toBeInTheDocument();
    expect(calls.find((c) => c.method === "PUT")?.body).toEqual({
      enabled: true,
      targets: ["claude/sonnet", "openai/gpt-4o"],
    });
  });

  it("deletes only after confirmation", async () => {
    mockApi("DELETE", "/admin/api/routes/smart", () => json(null, 204));
    await renderAs("admin", <RoutesPage />);
    await screen.findByRole("cell", { name: "smart" });
    fireEvent.click(await screen.findByRole("button", { name: /^Delete\s*smart$/ }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    const confirm = await screen.findByRole("dialog");
    fireEvent.click(within(confirm).getByRole("button", { name: "Delete" }));
    await waitFor(() =>
      expect(calls.some((c) => c.method === "DELETE" && c.path === "/admin/api/routes/smart")).toBe(true),
    );
  });
});
