// Time to interactive on the Overview, against a gproxy whose request log
// holds many rows (apps/gproxy/tests/ui.rs fills 1M and starts it; see
// docs/benchmarks.md, "The web console"). Each run is a fresh browser
// context (cold cache, signed in by cookie) loading `/`; "interactive" is
// when the Overview's figures and its charts are on screen. Prints one
// JSON line with the medians.
import assert from "node:assert/strict";
import { launch, step } from "./lib.mjs";

const gateway = (process.env.GPROXY_URL ?? "").replace(/\/$/, "");
const adminKey = process.env.GPROXY_ADMIN_KEY ?? "";
assert.ok(gateway && adminKey, "GPROXY_URL and GPROXY_ADMIN_KEY (run through apps/gproxy/tests/ui.rs)");
const runs = Number(process.env.GPROXY_TTI_RUNS ?? "5");
const ADMIN = { name: "ops", password: "correct horse battery" };

/** @param {number[]} xs */
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await launch(process.env.CHROMIUM ?? "/usr/bin/chromium");
try {
  step("first-run setup, to get a session cookie");
  const setup = await browser.newContext({ baseURL: gateway, locale: "en-US" });
  const page0 = await setup.newPage();
  await page0.goto("/");
  await page0.waitForURL("**/setup");
  await page0.getByLabel("Admin key", { exact: true }).fill(adminKey);
  await page0.getByLabel("Admin user name").fill(ADMIN.name);
  await page0.getByLabel("Password", { exact: true }).fill(ADMIN.password);
  await page0.getByLabel("Repeat the password").fill(ADMIN.password);
  await page0.getByRole("button", { name: "Create the admin user and sign in" }).click();
  await page0.getByRole("heading", { name: "Overview", level: 1 }).waitFor();
  const state = await setup.storageState();
  await setup.close();

  /** @type {Record<string, number[]>} */
  const t = {
    interactive: [],
    figures: [],
    inPageFigures: [],
    inPageCharts: [],
    domInteractive: [],
    usageApi: [],
    range30d: [],
  };
  let requests = "";
  for (let i = 0; i < runs; i++) {
    step(`cold load ${i + 1} of ${runs}`);
    const ctx = await browser.newContext({ baseURL: gateway, locale: "en-US", storageState: state });
    const page = await ctx.newPage();
    // In-page marks, from navigation start: when the figures and when the
    // charts are first in the document.
    await page.addInitScript(() => {
      const marks = /** @type {Record<string, number>} */ ({});
      Object.assign(globalThis, { __tti: marks });
      new MutationObserver(() => {
        if (
          marks.figures === undefined &&
          Array.from(document.querySelectorAll("dt")).some((d) => d.textContent === "Requests")
        )
          marks.figures = performance.now();
        if (marks.charts === undefined && document.querySelector(".recharts-surface")) marks.charts = performance.now();
      }).observe(document, { childList: true, subtree: true });
    });
    /** @type {number[]} */
    const api = [];
    /** @type {string[]} */
    const waterfall = [];
    const started = Date.now();
    page.on("requestfinished", (r) => {
      const timing = r.timing();
      if (r.url().includes("/admin/api/usage")) api.push(timing.responseEnd);
      const path = new URL(r.url()).pathname + new URL(r.url()).search.slice(0, 40);
      waterfall.push(`${Math.round(timing.startTime - started)}+${Math.round(timing.responseEnd)} ${path}`);
    });
    await page.goto("/");
    const stat = page.getByRole("term").filter({ hasText: /^Requests$/ });
    await stat.waitFor({ timeout: 60_000 });
    t.figures.push(Date.now() - started);
    await page.locator(".recharts-surface").first().waitFor({ timeout: 60_000 });
    t.interactive.push(Date.now() - started);
    requests = (await stat.locator("xpath=following-sibling::dd").first().textContent()) ?? "";
    t.domInteractive.push(
      await page.evaluate(() => {
        const [nav] = /** @type {PerformanceNavigationTiming[]} */ (performance.getEntriesByType("navigation"));
        return Math.round(nav.domInteractive);
      }),
    );
    t.usageApi.push(Math.round(Math.max(...api)));
    const marks = await page.evaluate(() => /** @type {Record<string, number>} */ (Reflect.get(globalThis, "__tti")));
    t.inPageFigures.push(Math.round(marks.figures ?? NaN));
    t.inPageCharts.push(Math.round(marks.charts ?? NaN));
    if (i === runs - 1) console.log(`tti: last cold load, ms from navigation + duration:\n  ${waterfall.join("\n  ")}`);

    // The widest range: the whole log aggregated.
    const before = Date.now();
    const daily = page.waitForResponse((r) => r.url().includes("/admin/api/usage") && r.url().includes("bucket=day"), {
      timeout: 120_000,
    });
    await page.getByRole("button", { name: "30 days" }).click();
    await daily;
    await page.waitForLoadState("networkidle");
    await page.locator(".recharts-surface").first().waitFor();
    t.range30d.push(Date.now() - before);
    await ctx.close();
  }
  const result = Object.fromEntries(Object.entries(t).map(([k, v]) => [`${k}_ms`, median(v)]));
  console.log(`tti: ${JSON.stringify({ runs, requests_24h: requests, ...result, all: t })}`);
} finally {
  await browser.close();
}
