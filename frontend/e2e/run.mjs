// The console's browser journey, against the real gproxy binary and the
// testkit mock upstream (started by apps/gproxy/tests/ui.rs, which passes
// their URLs in GPROXY_URL and GPROXY_MOCK_URL). Selects by role and label,
// as a person finds things. Exits non-zero on the first failure.
import assert from "node:assert/strict";
import { mkdir } from "node:fs/promises";
import { checkA11y, DESKTOP, eventually, launch, screenshots, settings, step, watchConsole } from "./lib.mjs";

const cfg = settings();
const ADMIN = { name: "ops", password: "correct horse battery" };
const VIEWER = { name: "vera", password: "viewer password 1" };
const CLIENT = { name: "carol" };
const PROVIDER = "mockai";
const OAUTH_PROVIDER = "claude-max";

await mkdir(cfg.artifacts, { recursive: true });
const browser = await launch(cfg.chromium);
const context = await browser.newContext({ viewport: DESKTOP, baseURL: cfg.gateway, locale: "en-US" });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: cfg.gateway });
const page = await context.newPage();
const console_ = watchConsole(page);
/** @type {[string, number][]} */
const a11y = [];

/**
 * axe and screenshots of the page as it is now.
 *
 * @param {string} name
 */
async function record(name) {
  await page.waitForLoadState("networkidle");
  a11y.push([name, await checkA11y(page, name)]);
  await screenshots(page, cfg.artifacts, name);
}

/**
 * A proxy call with `key` through the mock provider; returns the status.
 *
 * @param {string} key
 */
async function callProxy(key) {
  const res = await fetch(`${cfg.gateway}/${PROVIDER}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello from the e2e" }] }),
  });
  await res.arrayBuffer();
  return res.status;
}

/** @param {string} name */
async function nav(name) {
  const menu = page.getByRole("button", { name: "Open the menu" });
  if (await menu.isVisible()) await menu.click();
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true }).click();
}

try {
  step("first run: / leads to the setup, which needs the admin key");
  await page.goto("/");
  await page.waitForURL("**/setup");
  await page.getByRole("heading", { name: "Set up gproxy" }).waitFor();
  await record("setup");
  await page.getByRole("button", { name: "Create the admin user and sign in" }).click();
  await page.getByText("A key has at least 8 characters.").waitFor();
  await page.getByLabel("Admin key", { exact: true }).fill("sk-not-the-admin-key");
  await page.getByLabel("Admin user name").fill(ADMIN.name);
  await page.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page.getByLabel("Repeat the password").fill("something else");
  await page.getByRole("button", { name: "Create the admin user and sign in" }).click();
  await page.getByText("The passwords differ.").waitFor();
  await page.getByLabel("Repeat the password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Create the admin user and sign in" }).click();
  await page.getByText("This is not the admin key.").waitFor();
  await page.getByLabel("Admin key", { exact: true }).fill(cfg.adminKey);
  await page.getByRole("button", { name: "Create the admin user and sign in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  await record("overview");

  step("sign out and in again with the password");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in to gproxy" }).waitFor();
  await record("sign-in");
  await page.getByLabel("User name").fill(ADMIN.name);
  await page.getByLabel("Password").fill("wrong password!");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByText("wrong user name or password").waitFor();
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();

  step("every slot of the navigation is routed");
  const links = page.getByRole("navigation", { name: "Main" }).getByRole("link");
  assert.deepEqual(await links.allTextContents(), [
    "Overview",
    "Providers",
    "Credentials",
    "Users & keys",
    "Model routes",
    "Limits & budgets",
    "Usage",
    "Logs",
    "Settings",
    "Audit log",
    "Playground",
    "About",
  ]);
  for (const [name, slug] of [
    ["Model routes", "routes"],
    ["Limits & budgets", "limits"],
    ["Usage", "usage"],
    ["Settings", "settings"],
    ["Audit log", "audit"],
    ["Playground", "playground"],
    ["About", "about"],
  ]) {
    await nav(name);
    await page.getByRole("heading", { name, level: 1 }).waitFor();
    await record(slug);
  }

  step("a custom provider pointing at the mock, with inline validation");
  await nav("Providers");
  await page.getByRole("heading", { name: "Providers", level: 1 }).waitFor();
  await page.getByRole("cell", { name: "openai", exact: true }).waitFor();
  await record("providers");
  await page.getByRole("button", { name: "New custom provider" }).click();
  const dialog = page.getByRole("dialog", { name: "New custom provider" });
  await dialog.getByLabel("Name", { exact: true }).fill("Bad Name");
  await dialog.getByLabel("Base URL").fill("ftp://example");
  await dialog.getByLabel("json_param_mask").fill("temperature\nmessages[*.name");
  await dialog.getByRole("button", { name: "Add a header" }).click();
  await dialog.getByLabel("Header 1 name").fill("Authorization");
  await dialog.getByRole("button", { name: "Create the provider" }).click();
  await dialog.getByText("1 to 64 characters: lowercase letters").waitFor();
  await dialog.getByText("Must start with http:// or https://.").waitFor();
  await dialog.getByText("Line 2 (messages[*.name): ] expected.").waitFor();
  await dialog.getByText("gproxy sets this header itself").waitFor();
  await record("provider-editor-errors");
  await dialog.getByLabel("Name", { exact: true }).fill(PROVIDER);
  await dialog.getByLabel("Base URL").fill(`${cfg.mock}/v1`);
  await dialog.getByLabel("json_param_mask").fill("metadata.trace");
  await dialog.getByLabel("Header 1 name").fill("x-e2e");
  await dialog.getByLabel("Header 1 value").fill("journey");
  await dialog.getByLabel("Protocol").selectOption("openai_chat");
  await dialog.getByRole("button", { name: "Create the provider" }).click();
  await page.getByText(`Provider ${PROVIDER} created.`).waitFor();
  await page.getByRole("link", { name: PROVIDER, exact: true }).click();
  await page.waitForURL(`**/providers/${PROVIDER}`);
  await page.getByRole("heading", { name: PROVIDER, level: 1 }).waitFor();
  await record("provider-detail");

  step("a deep link reloads into the same page");
  await page.reload();
  await page.getByRole("heading", { name: PROVIDER, level: 1 }).waitFor();

  step("a credential for it, tested");
  await page.getByRole("link", { name: "0 credentials" }).click();
  await page.getByRole("heading", { name: "Credentials", level: 1 }).waitFor();
  await page.getByRole("button", { name: "Add a credential" }).click();
  const add = page.getByRole("dialog", { name: `Add a credential to ${PROVIDER}` });
  await add.getByLabel("Name").fill("primary");
  await add.getByLabel("API key").fill("sk-mock-upstream-0001");
  await add.getByRole("button", { name: "Add a credential" }).click();
  await page.getByText("Credential primary added.").waitFor();
  const row = page.getByRole("row", { name: /primary/ });
  await row.getByText("OK", { exact: true }).waitFor();
  await row.getByRole("button", { name: "Test primary" }).click();
  await row.getByText("Passed").waitFor();
  await row.getByText(/\d+ ms/).waitFor();
  await record("credentials");
  await page.getByRole("button", { name: "Import many" }).click();
  const imp = page.getByRole("dialog", { name: `Import credentials into ${PROVIDER}` });
  await imp.getByLabel("API keys, one per line").fill("# two more\nsk-mock-upstream-0002\nsk-mock-upstream-0003\n");
  await imp.getByRole("button", { name: "Import", exact: true }).click();
  await imp.getByText("2 imported, 0 skipped.").waitFor();
  await imp.getByRole("button", { name: "Close" }).last().click();
  await page.getByText("3 rows").waitFor();

  step("a subscription account logged in with OAuth, its quota read, its token refreshed");
  // A claudecode provider on the mock's OAuth endpoints, made through the
  // admin API (the console's editor makes custom providers only).
  const made = await fetch(`${cfg.gateway}/admin/api/providers`, {
    method: "POST",
    headers: { authorization: `Bearer ${cfg.adminKey}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: OAUTH_PROVIDER,
      kind: "claudecode",
      base_url: cfg.mock,
      settings: { authorize_url: `${cfg.mock}/oauth/authorize`, token_url: `${cfg.mock}/v1/oauth/token` },
    }),
  });
  assert.equal(made.status, 201, await made.text());
  await nav("Providers");
  // Made outside this tab: a reload shows it.
  await page.reload();
  await page.getByRole("link", { name: OAUTH_PROVIDER, exact: true }).click();
  await page.getByRole("heading", { name: OAUTH_PROVIDER, level: 1 }).waitFor();
  await page
    .getByRole("region", { name: "Subscription accounts" })
    .getByRole("button", { name: "Log in with OAuth" })
    .click();
  const login = page.getByRole("dialog", { name: `Log an account in to ${OAUTH_PROVIDER}` });
  await login.getByRole("button", { name: "Get the sign-in link" }).click();
  const signIn = login.getByRole("link", { name: `${OAUTH_PROVIDER} sign-in page` });
  assert.equal(await signIn.getAttribute("target"), "_blank");
  const authorize = (await signIn.getAttribute("href")) ?? "";
  assert.ok(authorize.startsWith(`${cfg.mock}/oauth/authorize?`), `the authorize URL: ${authorize}`);
  // The person's browser: the mock approves at once and redirects to the
  // redirect URI with the code and the state; that address is pasted back.
  const approved = await fetch(authorize, { redirect: "manual" });
  assert.equal(approved.status, 302, "the mock's authorize page redirects");
  const landed = approved.headers.get("location") ?? "";
  const params = new URL(landed).searchParams;
  assert.ok(params.get("code") && params.get("state"), `the redirect carries a code and the state: ${landed}`);
  await login.getByRole("button", { name: "Finish the login" }).click();
  await login.getByText("Required.").waitFor();
  await login.getByLabel("Address the browser ended on, or the code").fill(landed);
  await record("oauth-login");
  await login.getByRole("button", { name: "Finish the login" }).click();
  await login.getByText("Credential user-example.com created for user@example.com.").waitFor();
  await login.getByRole("button", { name: "Close" }).last().click();
  await page.getByRole("link", { name: "1 credential" }).click();
  await page.getByRole("heading", { name: "Credentials", level: 1 }).waitFor();
  const account = page.getByRole("row", { name: /user@example\.com/ });
  await account.getByText(/^Token valid until /).waitFor();
  await account.getByText("OK", { exact: true }).waitFor();
  await record("oauth-credentials");
  await account.getByRole("button", { name: "Quota user-example.com" }).click();
  const quota = page.getByRole("dialog", { name: "Quota of user-example.com" });
  const fiveHours = quota.getByRole("progressbar", { name: "5 hours" });
  await fiveHours.waitFor();
  assert.equal(await fiveHours.getAttribute("aria-valuenow"), "12");
  await quota.getByText("12% used").first().waitFor();
  await quota
    .getByText(/^Resets /)
    .first()
    .waitFor();
  await record("oauth-quota");
  await quota.getByRole("button", { name: "Close" }).first().click();
  await account.getByRole("button", { name: "Refresh now user-example.com" }).click();
  await page.getByText(/^user-example\.com: new token, valid until /).waitFor();

  step("a user and a key, revealed once");
  await nav("Users & keys");
  await page.getByRole("button", { name: "New user" }).click();
  const nu = page.getByRole("dialog", { name: "New user" });
  await nu.getByLabel("Name").fill(CLIENT.name);
  await nu.getByLabel("Role").selectOption("user");
  await nu.getByRole("button", { name: "Create the user" }).click();
  await page.getByText(`User ${CLIENT.name} created.`).waitFor();
  await record("users");
  await page.getByRole("link", { name: CLIENT.name, exact: true }).click();
  await page.getByRole("heading", { name: CLIENT.name, level: 1 }).waitFor();
  await page.getByRole("button", { name: "New key" }).click();
  const nk = page.getByRole("dialog", { name: "New key" });
  await nk.getByLabel("Label").fill("e2e");
  await nk.getByLabel("Allowed providers").fill(PROVIDER);
  await nk.getByRole("button", { name: "Create the key" }).click();
  const reveal = page.getByRole("dialog", { name: "Your new key" });
  await reveal.getByText("It will not be shown again").waitFor();
  const key = await reveal.getByLabel("Key", { exact: true }).inputValue();
  assert.ok(key.length >= 16, `a key: ${key}`);
  await reveal.getByRole("button", { name: "Copy" }).click();
  await reveal.getByRole("button", { name: "Copied" }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), key);
  await record("key-reveal");
  await reveal.getByRole("button", { name: "I have stored it" }).click();
  await page.getByRole("cell", { name: "e2e", exact: true }).waitFor();
  assert.equal(await page.getByText(key).count(), 0, "the key is not shown after the reveal");
  await record("user-keys");

  step("the key calls the proxy, and the call shows in Logs with its attempt");
  assert.equal(await callProxy(key), 200);
  await nav("Logs");
  await page.getByRole("heading", { name: "Logs", level: 1 }).waitFor();
  await eventually("the request in Logs", async () => {
    await page.getByLabel("Provider").fill(PROVIDER);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForLoadState("networkidle");
    return (await page.getByRole("cell", { name: CLIENT.name, exact: true }).count()) > 0;
  });
  await record("logs");
  await page
    .getByRole("button", { name: /^Open / })
    .first()
    .click();
  const drawer = page.getByRole("dialog", { name: "Request detail" });
  await drawer.getByText("1 upstream attempt").waitFor();
  await drawer.getByRole("cell", { name: PROVIDER, exact: true }).waitFor();
  await record("log-detail");
  await drawer.getByRole("button", { name: "Close" }).click();

  step("Live follows requests as they finish, with the page's filters");
  await page.getByRole("button", { name: "Live" }).click();
  await page.getByText("Live: 0 requests so far.").waitFor();
  assert.equal(await callProxy(key), 200);
  const live = page.getByRole("region", { name: "Live requests" });
  await live.getByRole("cell", { name: CLIENT.name, exact: true }).waitFor();
  await page.getByText("Live: 1 request so far.").waitFor();
  await record("logs-live");
  await page.getByRole("button", { name: "Live" }).click();

  step("the playground streams an answer in every client protocol");
  await nav("Playground");
  await page.getByRole("heading", { name: "Playground", level: 1 }).waitFor();
  await page.getByLabel("Proxy key (gpk-…)").fill(key);
  await page.getByRole("button", { name: "Use key" }).click();
  const modelSelect = page.getByLabel("Model", { exact: true });
  await modelSelect.locator("option").first().waitFor({ state: "attached" });
  const offered = await modelSelect.locator("option").allTextContents();
  const mockModel = `${PROVIDER}/gpt-4o-mini`;
  assert.ok(offered.includes(mockModel), `the playground offers ${mockModel}: ${offered.join(", ")}`);
  assert.ok(
    offered.every((m) => m.startsWith(`${PROVIDER}/`)),
    `only the key's allowed provider: ${offered.join(", ")}`,
  );
  await modelSelect.selectOption(mockModel);
  const answer = page.getByRole("region", { name: "Answer" });
  for (const protocol of ["OpenAI Chat Completions", "OpenAI Responses", "Anthropic Messages", "Gemini"]) {
    await page.getByLabel("Client protocol").selectOption({ label: protocol });
    await page.getByLabel("Message", { exact: true }).fill(`hello in ${protocol}`);
    const streamed = page.waitForResponse(
      (r) => r.request().method() === "POST" && r.request().postData()?.includes(`hello in ${protocol}`) === true,
    );
    await page.getByRole("button", { name: "Send" }).click();
    const res = await streamed;
    assert.equal(res.status(), 200, `${protocol}: status`);
    assert.match(res.headers()["content-type"] ?? "", /^text\/event-stream/, `${protocol}: an event stream`);
    await answer.getByText("Hello from mock gpt-4o-mini", { exact: true }).waitFor();
    await answer.getByText(`${PROVIDER} / gpt-4o-mini`).waitFor();
    await page.getByRole("button", { name: "Send" }).waitFor();
  }
  await record("playground-answer");

  step("the calls show in Usage, totalled by provider");
  await nav("Usage");
  await page.getByRole("heading", { name: "Usage", level: 1 }).waitFor();
  // One call from Logs, one from Live, four from the playground.
  await eventually("six requests in Usage", async () => {
    await page.reload();
    await page.getByRole("textbox", { name: "Provider" }).fill(PROVIDER);
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForLoadState("networkidle");
    const row = page.getByRole("row", { name: new RegExp(`\\b${PROVIDER}\\b`) });
    if ((await row.count()) === 0) return false;
    const requests = page
      .getByRole("term")
      .filter({ hasText: /^Requests$/ })
      .locator("xpath=following-sibling::dd");
    return (await requests.textContent()) === "6";
  });
  await record("usage-filtered");

  step("a disabled key is refused on the next call");
  await nav("Users & keys");
  await page.getByRole("link", { name: CLIENT.name, exact: true }).click();
  await page.getByRole("button", { name: "Disable e2e" }).click();
  await page.getByText("Key e2e disabled.").waitFor();
  assert.equal(await callProxy(key), 401);
  await page.getByRole("button", { name: "Enable e2e" }).click();
  await page.getByText("Key e2e enabled.").waitFor();
  assert.equal(await callProxy(key), 200);

  step("destructive actions are confirmed");
  await page.getByRole("button", { name: "Delete e2e" }).click();
  const confirm = page.getByRole("dialog", { name: "Delete this key?" });
  await confirm.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("cell", { name: "e2e", exact: true }).waitFor();

  step("a budget for the user, set in the form, stands in the table");
  // After the last proxied call: the mock's model has no price, and a
  // budgeted request to an unpriced model is refused.
  await nav("Limits & budgets");
  await page.getByRole("heading", { name: "Limits & budgets", level: 1 }).waitFor();
  await page.getByText("No budget is set.", { exact: false }).waitFor();
  const budgets = page.getByRole("form", { name: "Budgets" });
  await budgets.getByRole("button", { name: "Add a budget" }).click();
  await budgets.getByLabel("Name or key prefix of budget 1").fill(CLIENT.name);
  await budgets.getByLabel("Daily USD of budget 1").fill("0");
  await budgets.getByText("Must be above 0").waitFor();
  await budgets.getByLabel("Daily USD of budget 1").fill("5");
  await budgets.getByLabel("Warn at % of budget 1").fill("80");
  await budgets.getByRole("button", { name: "Save budgets" }).click();
  await page.getByText("Budgets saved.").waitFor();
  const standing = page.getByRole("table", { name: "Budget standings" }).getByRole("row", { name: /carol/ });
  await standing.getByRole("cell", { name: "Daily", exact: true }).waitFor();
  // The budget, and what remains of it.
  await standing.getByRole("cell", { name: "$5", exact: true }).first().waitFor();
  await record("limits-budget");

  step("a viewer sees no write controls");
  await nav("Users & keys");
  await page.getByRole("button", { name: "New user" }).click();
  const nv = page.getByRole("dialog", { name: "New user" });
  await nv.getByLabel("Name").fill(VIEWER.name);
  await nv.getByLabel("Role").selectOption("viewer");
  await nv.getByLabel("Password").fill(VIEWER.password);
  await nv.getByRole("button", { name: "Create the user" }).click();
  await page.getByText(`User ${VIEWER.name} created.`).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("User name").fill(VIEWER.name);
  await page.getByLabel("Password").fill(VIEWER.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  for (const [name, rowText] of [
    ["Providers", PROVIDER],
    ["Credentials", "primary"],
    ["Users & keys", CLIENT.name],
  ]) {
    await nav(name);
    await page.getByRole("cell", { name: rowText, exact: true }).first().waitFor();
    for (const label of [
      "New custom provider",
      "New user",
      "Add a credential",
      "Import many",
      "Delete",
      "Disable",
      "Enable",
      "Edit",
      "Test",
      "Log in with OAuth",
      "Import a CLI login",
      "Refresh now",
      "Log in again",
    ]) {
      assert.equal(
        await page.getByRole("button", { name: new RegExp(`^${label}\\b`) }).count(),
        0,
        `${name}: no ${label} for a viewer`,
      );
    }
  }
  await nav("Providers");
  await page.getByRole("link", { name: PROVIDER, exact: true }).click();
  await page.getByRole("heading", { name: PROVIDER, level: 1 }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Save" }).count(), 0, "no provider editor for a viewer");
  await record("viewer-provider");
  await nav("Providers");
  await page.getByRole("link", { name: OAUTH_PROVIDER, exact: true }).click();
  await page.getByRole("region", { name: "Subscription accounts" }).waitFor();
  assert.equal(await page.getByRole("button", { name: "Log in with OAuth" }).count(), 0, "no OAuth login for a viewer");
  await page.getByRole("link", { name: "1 credential" }).click();
  await page.getByRole("button", { name: "Quota user-example.com" }).click();
  await page
    .getByRole("dialog", { name: "Quota of user-example.com" })
    .getByRole("progressbar", { name: "5 hours" })
    .waitFor();
  await page
    .getByRole("dialog", { name: "Quota of user-example.com" })
    .getByRole("button", { name: "Close" })
    .first()
    .click();

  step("language switch to Simplified Chinese and back");
  await page.getByRole("combobox", { name: "Language" }).selectOption("zh-CN");
  await page.getByRole("navigation", { name: "主导航" }).getByRole("link", { name: "供应商" }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
  await page.reload();
  await page.getByRole("link", { name: "供应商" }).waitFor();
  await record("zh-CN");
  await page.getByRole("combobox", { name: "语言" }).selectOption("en");
  await page.getByRole("link", { name: "Providers" }).waitFor();

  step("dark theme, remembered");
  await page.getByRole("button", { name: "Switch to the dark theme" }).click();
  assert.ok(await page.evaluate(() => document.documentElement.classList.contains("dark")));
  await page.reload();
  await page.getByRole("button", { name: "Switch to the light theme" }).waitFor();
  await record("dark");
  await page.getByRole("button", { name: "Switch to the light theme" }).click();

  step("keyboard: the skip link comes first and moves to the content");
  await page.reload();
  await page.getByRole("heading", { level: 1 }).waitFor();
  await page.keyboard.press("Tab");
  const focused = await page.evaluate(() => document.activeElement?.textContent);
  assert.equal(focused, "Skip to content");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "main");

  step("phone width: the menu opens and navigates");
  await page.setViewportSize({ width: 390, height: 844 });
  await nav("Logs");
  await page.getByRole("heading", { name: "Logs", level: 1 }).waitFor();
  await page.setViewportSize(DESKTOP);

  step("an ended session goes back to sign-in with a message");
  await context.clearCookies();
  await nav("Users & keys");
  await page.getByText("Your session has ended. Sign in again to continue.").waitFor();
  await record("session-ended");

  step("the user role sees only their own keys and logs");
  await page.getByLabel("User name").fill(ADMIN.name);
  await page.getByLabel("Password").fill(ADMIN.password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Users & keys", level: 1 }).waitFor();
  await page.getByRole("button", { name: `Edit ${CLIENT.name}` }).click();
  const eu = page.getByRole("dialog", { name: "Edit the user" });
  await eu.getByLabel("Password").fill("carol password 1");
  await eu.getByRole("button", { name: "Save" }).click();
  await page.getByText(`User ${CLIENT.name} saved.`).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByLabel("User name").fill(CLIENT.name);
  await page.getByLabel("Password").fill("carol password 1");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  const own = await page.getByRole("navigation", { name: "Main" }).getByRole("link").allTextContents();
  assert.deepEqual(own, ["Overview", "My keys", "Usage", "Logs", "Playground", "About"]);
  await nav("My keys");
  await page.getByRole("cell", { name: "e2e", exact: true }).waitFor();
  await record("my-keys");
  await nav("Logs");
  await page.getByRole("cell", { name: PROVIDER, exact: true }).first().waitFor();

  assert.deepEqual(console_.errors, [], "no console errors");
  console.log(
    `e2e: passed (${a11y.length} pages checked with axe; minor findings: ${a11y.map(([n, c]) => `${n}=${c}`).join(" ")})`,
  );
  console.log(`e2e: expected 4xx answers seen in the console: ${console_.network.length}`);
  console.log(`e2e: screenshots in ${cfg.artifacts}`);
} catch (e) {
  await page.screenshot({ path: `${cfg.artifacts}/failure.png`, fullPage: true }).catch(() => undefined);
  console.error(`e2e: FAILED at ${page.url()}: ${e instanceof Error ? e.stack : e}`);
  if (console_.errors.length) console.error(`console errors:\n${console_.errors.join("\n")}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
