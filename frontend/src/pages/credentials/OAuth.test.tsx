// OAuth logins in the credentials page against a fake admin API: the
// request bodies each step sends, the pasted callback's errors next to
// the field, a device code polled from pending to done (and expired, and
// cancelled), a CLI file imported, OAuth credentials with their account,
// expiry, dead reason, refresh and quota, and what a viewer may not do.
import "../../test/fetchMock";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Credential } from "../../api/credentials";
import type { QuotaReport } from "../../api/oauth";
import { formatTime } from "../../lib/format";
import { apiError, calls, json, mockApi, resetApi } from "../../test/fetchMock";
import { renderAs } from "../../test/render";

// The provider picker navigates; the page's own logic does not need the router.
vi.mock("@tanstack/react-router", () => ({
  useNavigate: () => () => undefined,
  Link: ({ children }: { children: React.ReactNode }) => <a href="/credentials">{children}</a>,
}));
const { CredentialsPage } = await import("./CredentialsPage");

const MAX: Credential = {
  id: 7,
  provider: "claude-max",
  name: "max-example.com",
  kind: "oauth",
  masked: "oauth max@example.com",
  enabled: true,
  weight: 1,
  state: "ok",
  oauth: {
    account: { email: "max@example.com", account_id: "acc-1", plan: "max" },
    expires_at: "2099-12-04T20:00:00Z",
    refreshable: true,
    disabled_reason: null,
  },
};

const DEAD: Credential = {
  ...MAX,
  id: 8,
  name: "pro-example.com",
  masked: "oauth pro@example.com",
  state: "disabled",
  oauth: {
    account: { email: "pro@example.com", plan: "pro" },
    expires_at: "2020-01-01T00:00:00Z",
    refreshable: true,
    disabled_reason: "refresh token revoked (invalid_grant)",
  },
};

const AUTHORIZE = {
  flow: "authorization_code",
  state: "st-1",
  url: "https://claude.ai/oauth/authorize?client_id=x&state=st-1",
  redirect_uri: "https://platform.claude.com/oauth/code/callback",
  expires_at_ms: Date.parse("2099-01-01T00:10:00Z"),
};

const DEVICE = {
  flow: "device",
  state: "dev-1",
  url: "https://auth.openai.com/codex/device",
  user_code: "ABCD-1234",
  interval_secs: 0,
  expires_at_ms: Date.parse("2099-01-01T00:15:00Z"),
};

/** A row button's name: the verb, then the row it acts on (read from a
 * screen-reader-only span; jsdom drops the space before it). */
const rowAction = (label: string, target: string) => new RegExp(`^${label}\\s*${target.replace(/\./g, "\\.")}$`);

const bodiesOf = (path: string) => calls.filter((c) => c.method === "POST" && c.path === path).map((c) => c.body);

function provide(name: string, kind: string, credentials: Credential[]) {
  mockApi("GET", "/admin/api/providers", () => [{ name, kind }]);
  mockApi("GET", `/admin/api/providers/${name}/credentials`, () => credentials);
  for (const c of credentials) {
    mockApi("GET", `/admin/api/credentials/${c.id}/state`, () => ({ id: c.id, state: c.state, in_flight: 0 }));
  }
}

/** Waits for the list and its live states, so the rows are not redrawn
 * under the next click. */
async function listed() {
  await screen.findByRole("row", { name: /pro@example\.com/ });
  await waitFor(() => expect(calls.filter((c) => c.path.endsWith("/state"))).toHaveLength(2));
  await new Promise((r) => setTimeout(r, 100));
}

beforeEach(() => {
  resetApi();
  provide("claude-max", "claudecode", [MAX, DEAD]);
});

describe("OAuth login (authorization code)", () => {
  it("starts, links the vendor page, and completes with the pasted address", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/providers/claude-max/oauth/start", () => AUTHORIZE);
    mockApi("POST", "/admin/api/providers/claude-max/oauth/complete", () =>
      json({ status: "created", credential: { ...MAX, id: 9, name: "work" } }, 201),
    );
    await renderAs("admin", <CredentialsPage provider="claude-max" />);
    const login = await screen.findByRole("button", { name: "Log in with OAuth" });
    // An OAuth provider logs accounts in instead of adding API keys.
    expect(screen.queryByRole("button", { name: "Add a credential" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Import many" })).toBeNull();
    await user.click(login);
    const dialog = await screen.findByRole("dialog", { name: "Log an account in to claude-max" });
    // Claude Code has no device flow: no choice to make.
    expect(within(dialog).queryByRole("radio")).toBeNull();
    await user.type(within(dialog).getByLabelText("Name"), "work");
    await user.click(within(dialog).getByRole("button", { name: "Get the sign-in link" }));
    const link = await within(dialog).findByRole("link", { name: "claude-max sign-in page" });
    expect(bodiesOf("/admin/api/providers/claude-max/oauth/start")).toEqual([{}]);
    expect(link).toHaveAttribute("href", AUTHORIZE.url);
    expect(link).toHaveAttribute("target", "_blank");
    expect(link).toHaveAttribute("rel", "noopener noreferrer");
    expect(within(dialog).getByText(/platform\.claude\.com\/oauth\/code\/callback/)).toBeInTheDocument();

    // Nothing pasted: refused here, nothing sent.
    await user.click(within(dialog).getByRole("button", { name: "Finish the login" }));
    const callback = within(dialog).getByLabelText("Address the browser ended on, or the code");
    expect(callback).toHaveAttribute("aria-invalid", "true");
    expect(bodiesOf("/admin/api/providers/claude-max/oauth/complete")).toEqual([]);

    await user.type(callback, "https://platform.claude.com/oauth/code/callback?code=c-1&state=st-1");
    expect(callback).toHaveAttribute("aria-invalid", "false");
    await user.click(within(dialog).getByRole("button", { name: "Finish the login" }));
    expect(await within(dialog).findByText("Credential work created for max@example.com.")).toBeInTheDocument();
    expect(within(dialog).getByText("Plan max")).toBeInTheDocument();
    expect(bodiesOf("/admin/api/providers/claude-max/oauth/complete")).toEqual([
      {
        state: "st-1",
        callback: "https://platform.claude.com/oauth/code/callback?code=c-1&state=st-1",
        name: "work",
      },
    ]);
  });

  it("shows the API's errors: on the pasted field, an expired login, the vendor", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/providers/claude-max/oauth/start", () => AUTHORIZE);
    mockApi("POST", "/admin/api/providers/claude-max/oauth/complete", () =>
      apiError(400, "the callback has no code", "callback"),
    );
    await renderAs("admin", <CredentialsPage provider="claude-max" />);
    await user.click(await screen.findByRole("button", { name: "Log in with OAuth" }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Get the sign-in link" }));
    const callback = await within(dialog).findByLabelText("Address the browser ended on, or the code");
    await user.type(callback, "https://platform.claude.com/oauth/code/callback?state=st-1");
    await user.click(within(dialog).getByRole("button", { name: "Finish the login" }));
    await waitFor(() => expect(callback).toHaveAttribute("aria-invalid", "true"));
    expect(within(dialog).getByText("the callback has no code")).toBeInTheDocument();

    mockApi("POST", "/admin/api/providers/claude-max/oauth/complete", () =>
      json({ error: { code: "upstream", message: "invalid_grant: code expired", field: null } }, 502),
    );
    await user.click(within(dialog).getByRole("button", { name: "Finish the login" }));
    expect(await within(dialog).findByText("The vendor refused: invalid_grant: code expired")).toBeInTheDocument();

    mockApi("POST", "/admin/api/providers/claude-max/oauth/complete", () =>
      apiError(400, "unknown or expired login", "state"),
    );
    await user.click(within(dialog).getByRole("button", { name: "Finish the login" }));
    expect(
      await within(dialog).findByText("This login can no longer be finished (unknown or expired login). Start again."),
    ).toBeInTheDocument();
    // Back at the start, ready for a new link.
    expect(within(dialog).getByRole("button", { name: "Get the sign-in link" })).toBeInTheDocument();
  });
});

describe("OAuth login (device code)", () => {
  beforeEach(() => provide("codex", "codex", []));

  it("shows the code and polls from pending to done", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/providers/codex/oauth/start", () => DEVICE);
    let polls = 0;
    mockApi("POST", "/admin/api/providers/codex/oauth/poll", () => {
      polls += 1;
      return polls < 3
        ? json({ status: "pending", retry_after_secs: 0 }, 202)
        : json(
            {
              status: "created",
              credential: {
                ...MAX,
                provider: "codex",
                name: "dev-example.com",
                oauth: { ...MAX.oauth, account: { email: "dev@example.com", plan: "plus" } },
              },
            },
            201,
          );
    });
    await renderAs("admin", <CredentialsPage provider="codex" />);
    await user.click(await screen.findByRole("button", { name: "Log in with OAuth" }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("radio", { name: /With a device code/ }));
    await user.type(within(dialog).getByLabelText("Weight"), "2");
    await user.click(within(dialog).getByRole("button", { name: "Get a device code" }));
    expect(
      await within(dialog).findByText("Credential dev-example.com created for dev@example.com."),
    ).toBeInTheDocument();
    expect(within(dialog).getByText("Plan plus")).toBeInTheDocument();
    expect(bodiesOf("/admin/api/providers/codex/oauth/start")).toEqual([{ flow: "device" }]);
    expect(bodiesOf("/admin/api/providers/codex/oauth/poll")).toEqual([
      { state: "dev-1", weight: 2 },
      { state: "dev-1", weight: 2 },
      { state: "dev-1", weight: 2 },
    ]);
  });

  it("says when the code expired, and stops polling on cancel", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/providers/codex/oauth/start", () => ({ ...DEVICE, interval_secs: 1 }));
    mockApi("POST", "/admin/api/providers/codex/oauth/poll", () =>
      json({ status: "pending", retry_after_secs: 1 }, 202),
    );
    await renderAs("admin", <CredentialsPage provider="codex" />);
    await user.click(await screen.findByRole("button", { name: "Log in with OAuth" }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("radio", { name: /With a device code/ }));
    await user.click(within(dialog).getByRole("button", { name: "Get a device code" }));
    expect(await within(dialog).findByText("ABCD-1234")).toBeInTheDocument();
    expect(within(dialog).getByRole("link", { name: DEVICE.url })).toHaveAttribute("target", "_blank");
    expect(within(dialog).getByText("Waiting for your approval… checking every 1 s.")).toBeInTheDocument();
    await waitFor(() => expect(bodiesOf("/admin/api/providers/codex/oauth/poll").length).toBe(1), { timeout: 3000 });
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    expect(within(dialog).getByRole("button", { name: "Get a device code" })).toBeInTheDocument();
    await new Promise((r) => setTimeout(r, 1500));
    expect(bodiesOf("/admin/api/providers/codex/oauth/poll").length).toBe(1);

    mockApi("POST", "/admin/api/providers/codex/oauth/start", () => DEVICE);
    mockApi("POST", "/admin/api/providers/codex/oauth/poll", () => apiError(400, "the device code expired", "state"));
    await user.click(within(dialog).getByRole("button", { name: "Get a device code" }));
    expect(
      await within(dialog).findByText(
        "The code expired before it was approved (the device code expired). Start again for a new one.",
      ),
    ).toBeInTheDocument();
  });
});

describe("CLI file import", () => {
  it("reads a picked file, sends its text, and shows a field error on the content", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/providers/claude-max/oauth/import", () =>
      apiError(400, "claudeAiOauth.accessToken: missing or empty", "content"),
    );
    await renderAs("admin", <CredentialsPage provider="claude-max" />);
    await user.click(await screen.findByRole("button", { name: "Import a CLI login" }));
    const dialog = await screen.findByRole("dialog", { name: "Import a CLI login into claude-max" });
    expect(within(dialog).getByText(/~\/\.claude\/\.credentials\.json/)).toBeInTheDocument();
    const file = new File(['{"claudeAiOauth":{}}'], ".credentials.json", { type: "application/json" });
    await user.upload(within(dialog).getByLabelText("Or pick the file"), file);
    const content = within(dialog).getByLabelText("The credentials file's contents");
    await waitFor(() => expect(content).toHaveValue('{"claudeAiOauth":{}}'));
    expect(within(dialog).getByText("Read .credentials.json.")).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    await waitFor(() => expect(content).toHaveAttribute("aria-invalid", "true"));
    expect(within(dialog).getByText("claudeAiOauth.accessToken: missing or empty")).toBeInTheDocument();
    expect(bodiesOf("/admin/api/providers/claude-max/oauth/import")).toEqual([{ content: '{"claudeAiOauth":{}}' }]);

    mockApi("POST", "/admin/api/providers/claude-max/oauth/import", () =>
      json({ status: "updated", credential: MAX }, 200),
    );
    await user.clear(content);
    await user.type(content, "sk-ant-oat01-setup");
    await user.click(within(dialog).getByRole("button", { name: "Import" }));
    expect(
      await within(dialog).findByText(
        "Credential max-example.com updated for max@example.com: new tokens, enabled again.",
      ),
    ).toBeInTheDocument();
    expect(bodiesOf("/admin/api/providers/claude-max/oauth/import")[1]).toEqual({ content: "sk-ant-oat01-setup" });
  });
});

describe("OAuth credentials in the list", () => {
  it(
    "shows the account, expiry and a dead token's reason, and logs a dead one in again",
    { timeout: 20_000 },
    async () => {
      const user = userEvent.setup();
      mockApi("POST", "/admin/api/providers/claude-max/oauth/start", () => AUTHORIZE);
      mockApi("POST", "/admin/api/providers/claude-max/oauth/complete", () => ({
        status: "updated",
        credential: DEAD,
      }));
      await renderAs("admin", <CredentialsPage provider="claude-max" />);
      const live = within(await screen.findByRole("row", { name: /max@example\.com/ }));
      expect(live.getByText("Plan max")).toBeInTheDocument();
      expect(live.getByText(`Token valid until ${formatTime(MAX.oauth?.expires_at, "en")}`)).toBeInTheDocument();
      expect(live.queryByRole("button", { name: /Log in again/ })).toBeNull();
      const dead = within(screen.getByRole("row", { name: /pro@example\.com/ }));
      expect(dead.getByText("Dead: refresh token revoked (invalid_grant)")).toBeInTheDocument();
      expect(dead.getByText("Log in again to revive it.")).toBeInTheDocument();
      await user.click(dead.getByRole("button", { name: rowAction("Log in again", "pro-example.com") }));
      const dialog = await screen.findByRole("dialog", { name: "Log pro-example.com in again" });
      expect(within(dialog).getByLabelText("Name")).toHaveValue("pro-example.com");
      expect(within(dialog).getByLabelText("Name")).toHaveAttribute("readonly");
      await user.click(within(dialog).getByRole("button", { name: "Get the sign-in link" }));
      await user.type(await within(dialog).findByLabelText("Address the browser ended on, or the code"), "c-2#st-1");
      await user.click(within(dialog).getByRole("button", { name: "Finish the login" }));
      await within(dialog).findByText(/Credential pro-example\.com updated/);
      expect(bodiesOf("/admin/api/providers/claude-max/oauth/complete")).toEqual([
        { state: "st-1", callback: "c-2#st-1", name: "pro-example.com" },
      ]);
    },
  );

  it("refreshes a token now", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    mockApi("POST", "/admin/api/credentials/7/refresh", () => ({ id: 7, expires_at: "2099-12-05T04:00:00Z" }));
    mockApi("POST", "/admin/api/credentials/8/refresh", () =>
      json({ error: { code: "upstream", message: "refresh failed: invalid_grant", field: null } }, 502),
    );
    await renderAs("admin", <CredentialsPage provider="claude-max" />);
    await listed();
    await user.click(await screen.findByRole("button", { name: rowAction("Refresh now", "max-example.com") }));
    expect(
      await screen.findByText(`max-example.com: new token, valid until ${formatTime("2099-12-05T04:00:00Z", "en")}.`),
    ).toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: rowAction("Refresh now", "pro-example.com") }));
    expect(
      await screen.findByText("Refreshing pro-example.com failed: refresh failed: invalid_grant"),
    ).toBeInTheDocument();
  });

  it("shows the quota as bars with reset times, and says why when there is none", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    const report: QuotaReport = {
      credential_id: 7,
      fetched_at: "2099-12-04T19:00:00+00:00",
      plan: "max",
      windows: [
        { name: "five_hour", used_percent: 12, resets_at: 4_100_000_000, window_seconds: 18_000 },
        { name: "seven_day_sonnet", model: "sonnet", used_percent: 95.5, resets_at: 4_100_086_400 },
        { name: "gemini-2.5-pro", model: "gemini-2.5-pro" },
      ],
      raw: {},
    };
    mockApi("GET", "/admin/api/credentials/7/quota", () => report);
    mockApi("GET", "/admin/api/credentials/8/quota", () => apiError(400, "claudecode has no quota endpoint"));
    await renderAs("admin", <CredentialsPage provider="claude-max" />);
    await listed();
    await user.click(await screen.findByRole("button", { name: rowAction("Quota", "max-example.com") }));
    const dialog = await screen.findByRole("dialog", { name: "Quota of max-example.com" });
    const five = await within(dialog).findByRole("progressbar", { name: "5 hours" });
    expect(five).toHaveAttribute("aria-valuenow", "12");
    expect(within(dialog).getByText("12% used")).toBeInTheDocument();
    expect(within(dialog).getByText("5-hour window")).toBeInTheDocument();
    expect(
      within(dialog).getByText(`Resets ${formatTime(new Date(4_100_000_000 * 1000).toISOString(), "en")}`),
    ).toBeInTheDocument();
    expect(within(dialog).getByRole("progressbar", { name: "7 days, Sonnet" })).toHaveAttribute(
      "aria-valuenow",
      "95.5",
    );
    // The model is named once: the window's name already says it.
    expect(within(dialog).queryByText(/model sonnet/)).toBeNull();
    const unknown = within(dialog).getByRole("progressbar", { name: "gemini-2.5-pro" });
    expect(unknown).not.toHaveAttribute("aria-valuenow");
    expect(within(dialog).getByText("Usage not reported")).toBeInTheDocument();
    expect(within(dialog).getByText("max")).toBeInTheDocument();
    await user.click(within(dialog).getByRole("button", { name: "Close" }));

    await user.click(screen.getByRole("button", { name: rowAction("Quota", "pro-example.com") }));
    const none = await screen.findByRole("dialog", { name: "Quota of pro-example.com" });
    expect(await within(none).findByText("This provider kind has no quota endpoint to read.")).toBeInTheDocument();
  });

  it("says when the vendor's quota endpoint failed", async () => {
    const user = userEvent.setup();
    mockApi("GET", "/admin/api/credentials/7/quota", () =>
      json({ error: { code: "upstream", message: "HTTP 503 from api.anthropic.com", field: null } }, 502),
    );
    await renderAs("admin", <CredentialsPage provider="claude-max" />);
    await listed();
    await user.click(await screen.findByRole("button", { name: rowAction("Quota", "max-example.com") }));
    expect(
      await screen.findByText("The vendor's quota endpoint failed: HTTP 503 from api.anthropic.com"),
    ).toBeInTheDocument();
  });

  it("shows a viewer the accounts and quota, without any login, import or refresh", async () => {
    const user = userEvent.setup();
    mockApi("GET", "/admin/api/credentials/7/quota", () => ({
      credential_id: 7,
      fetched_at: "2099-12-04T19:00:00Z",
      windows: [{ name: "five_hour", used_percent: 40 }],
    }));
    await renderAs("viewer", <CredentialsPage provider="claude-max" />);
    await listed();
    await screen.findByText("Dead: refresh token revoked (invalid_grant)");
    for (const name of [/Log in with OAuth/, /Import a CLI login/, /Refresh now/, /Log in again/, /Edit/, /Delete/]) {
      expect(screen.queryByRole("button", { name })).toBeNull();
    }
    await user.click(screen.getByRole("button", { name: rowAction("Quota", "max-example.com") }));
    expect(await screen.findByRole("progressbar", { name: "5 hours" })).toHaveAttribute("aria-valuenow", "40");
  });
});

describe("the provider page of an OAuth kind", () => {
  const VIEW = {
    id: 3,
    name: "claude-max",
    kind: "claudecode",
    builtin: false,
    base_url: "https://api.anthropic.com",
    effective_base_url: "https://api.anthropic.com",
    enabled: true,
    credential_strategy: "round_robin",
    settings: {},
    credentials: 2,
    loaded: true,
  };

  it("offers the login and the import to an admin, and neither to a viewer", { timeout: 20_000 }, async () => {
    const user = userEvent.setup();
    const { ProviderPage } = await import("../providers/ProviderPage");
    mockApi("GET", "/admin/api/providers/claude-max", () => VIEW);
    mockApi("POST", "/admin/api/providers/claude-max/oauth/start", () => AUTHORIZE);
    const { unmount } = await renderAs("admin", <ProviderPage name="claude-max" />);
    const card = await screen.findByRole("region", { name: "Subscription accounts" });
    await user.click(within(card).getByRole("button", { name: "Log in with OAuth" }));
    const dialog = await screen.findByRole("dialog", { name: "Log an account in to claude-max" });
    await user.click(within(dialog).getByRole("button", { name: "Get the sign-in link" }));
    expect(await within(dialog).findByRole("link", { name: "claude-max sign-in page" })).toHaveAttribute(
      "href",
      AUTHORIZE.url,
    );
    unmount();

    await renderAs("viewer", <ProviderPage name="claude-max" />);
    const readOnly = await screen.findByRole("region", { name: "Subscription accounts" });
    expect(within(readOnly).queryByRole("button")).toBeNull();
  });
});
