// The OAuth login form and the quota panel against a fake admin API: the
// bodies each flow sends, the device code polled until approved, the API's
// field errors next to their field, and the quota bars.
import "../../test/fetchMock";
import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { apiError, calls, json, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";
import { OAuthLoginForm } from "./OAuthLoginForm";
import { QuotaPanel } from "./QuotaPanel";

const DONE = {
  status: "created",
  credential: {
    id: 7,
    provider: "claudecode",
    name: "max-example.com",
    kind: "oauth",
    masked: "oauth max@example.com",
    enabled: true,
    weight: 1,
    state: "ok",
    oauth: {
      account: { email: "max@example.com" },
      expires_at: "2026-12-05T03:00:00Z",
      refreshable: true,
      disabled_reason: null,
    },
  },
};

const bodies = (path: string) => calls.filter((c) => c.method === "POST" && c.path === path).map((c) => c.body);

beforeEach(() => resetApi());
afterEach(() => vi.useRealTimers());

describe("OAuthLoginForm", () => {
  it("starts a browser login, links the vendor's page and completes with the pasted address", async () => {
    const user = userEvent.setup();
    const onDone = vi.fn();
    mockApi("POST", "/admin/api/providers/claudecode/oauth/start", () => ({
      flow: "authorization_code",
      state: "st-1",
      url: "https://claude.ai/oauth/authorize?state=st-1",
      redirect_uri: "https://platform.claude.com/oauth/code/callback",
      expires_at_ms: 1,
    }));
    mockApi("POST", "/admin/api/providers/claudecode/oauth/complete", () => json(DONE, 201));
    await renderAs("admin", <OAuthLoginForm provider="claudecode" kind="claudecode" onDone={onDone} />);
    // claudecode has no device flow.
    expect(screen.queryByRole("tab", { name: "With a device code" })).toBeNull();
    await user.click(screen.getByRole("button", { name: "Start the login" }));
    const link = await screen.findByRole("link", { name: "open the sign-in page" });
    expect(link).toHaveAttribute("href", "https://claude.ai/oauth/authorize?state=st-1");
    expect(bodies("/admin/api/providers/claudecode/oauth/start")).toEqual([{ flow: "authorization_code" }]);
    await user.type(screen.getByLabelText("Where the browser ended"), "abc#st-1");
    await user.click(screen.getByRole("button", { name: "Complete the login" }));
    await waitFor(() => expect(onDone).toHaveBeenCalledWith(DONE));
    expect(bodies("/admin/api/providers/claudecode/oauth/complete")).toEqual([{ state: "st-1", callback: "abc#st-1" }]);
  });

  it("shows the API's error on the field it names", async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/providers/claudecode/oauth/start", () => ({
      flow: "authorization_code",
      state: "st-2",
      url: "https://x/authorize",
      expires_at_ms: 1,
    }));
    mockApi("POST", "/admin/api/providers/claudecode/oauth/complete", () =>
      apiError(400, "the URL has no `code` parameter", "callback"),
    );
    await renderAs("admin", <OAuthLoginForm provider="claudecode" kind="claudecode" onDone={vi.fn()} />);
    await user.click(screen.getByRole("button", { name: "Start the login" }));
    await user.click(await screen.findByRole("button", { name: "Complete the login" }));
    expect(await screen.findByText("Paste the address the browser ended on.")).toBeInTheDocument();
    await user.type(screen.getByLabelText("Where the browser ended"), "https://x/cb?state=st-2");
    await user.click(screen.getByRole("button", { name: "Complete the login" }));
    expect(await screen.findByText("the URL has no `code` parameter")).toBeInTheDocument();
    expect(screen.getByLabelText("Where the browser ended")).toHaveAttribute("aria-invalid", "true");
  });

  it("polls a device code until it is approved", async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    const user = userEvent.setup({ advanceTimers: vi.advanceTimersByTime });
    const onDone = vi.fn();
    mockApi("POST", "/admin/api/providers/codex/oauth/start", () => ({
      flow: "device",
      state: "dev-1",
      url: "https://auth.openai.com/codex/device",
      user_code: "ABCD-1234",
      interval_secs: 1,
      expires_at_ms: 1,
    }));
    let polls = 0;
    mockApi("POST", "/admin/api/providers/codex/oauth/poll", () => {
      polls += 1;
      return polls < 2 ? json({ status: "pending", retry_after_secs: 1 }, 202) : json(DONE, 201);
    });
    await renderAs("admin", <OAuthLoginForm provider="codex" kind="codex" onDone={onDone} />);
    await user.click(screen.getByRole("tab", { name: "With a device code" }));
    await user.click(screen.getByRole("button", { name: "Get a code" }));
    expect(await screen.findByTestId("user-code")).toHaveTextContent("ABCD-1234");
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1100);
    });
    await waitFor(() => expect(polls).toBe(1));
    expect(onDone).not.toHaveBeenCalled();
    await act(async () => {
      await vi.advanceTimersByTimeAsync(1100);
    });
    await waitFor(() => expect(onDone).toHaveBeenCalledWith(DONE));
    expect(bodies("/admin/api/providers/codex/oauth/poll")).toEqual([{ state: "dev-1" }, { state: "dev-1" }]);
  });

  it("imports a CLI file and places the file's fault on the field", async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/providers/codex/oauth/import", () =>
      apiError(400, "tokens.access_token: missing or empty", "content"),
    );
    await renderAs("admin", <OAuthLoginForm provider="codex" kind="codex" onDone={vi.fn()} />);
    await user.click(screen.getByRole("tab", { name: "Import a CLI file" }));
    expect(screen.getByText("Codex's ~/.codex/auth.json.")).toBeInTheDocument();
    await user.click(screen.getByLabelText("The file's content"));
    await user.paste('{"tokens":{}}');
    await user.click(screen.getByRole("button", { name: "Import" }));
    expect(await screen.findByText("tokens.access_token: missing or empty")).toBeInTheDocument();
    expect(bodies("/admin/api/providers/codex/oauth/import")).toEqual([{ content: '{"tokens":{}}' }]);
  });
});

describe("QuotaPanel", () => {
  it("draws a bar per window with its reset", async () => {
    mockApi("GET", "/admin/api/credentials/7/quota", () => ({
      credential_id: 7,
      fetched_at: "2026-12-04T19:00:00Z",
      plan: "pro",
      windows: [
        { name: "five_hour", used_percent: 95, resets_at: 1796414400 },
        { name: "gemini-2.5-pro", model: "gemini-2.5-pro", used_percent: 10 },
      ],
      raw: {},
    }));
    await renderAs("viewer", <QuotaPanel id={7} />);
    const meters = await screen.findAllByRole("meter");
    expect(meters.map((m) => m.getAttribute("aria-valuenow"))).toEqual(["95", "10"]);
    expect(screen.getByText(/Plan: pro/)).toBeInTheDocument();
    expect(screen.getAllByText(/resets/)).toHaveLength(1);
  });

  it("says when the kind has no quota endpoint", async () => {
    mockApi("GET", "/admin/api/credentials/3/quota", () => apiError(400, "no quota endpoint"));
    await renderAs("viewer", <QuotaPanel id={3} />);
    expect(await screen.findByText("This provider kind has no quota endpoint.")).toBeInTheDocument();
  });
});
