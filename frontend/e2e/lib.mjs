// Helpers for the browser journeys: the browser (Debian's chromium via
// playwright-core, no download), screenshots at desktop and phone widths,
// axe-core checks, and console watching.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { chromium } from "playwright-core";

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

/** Settings from the environment the Rust test sets. */
export function settings() {
  /** @param {string} name */
  const need = (name) => {
    const v = process.env[name];
    if (!v) throw new Error(`${name} is not set (run through apps/gproxy/tests/ui.rs)`);
    return v;
  };
  return {
    gateway: need("GPROXY_URL").replace(/\/$/, ""),
    mock: need("GPROXY_MOCK_URL").replace(/\/$/, ""),
    adminKey: need("GPROXY_ADMIN_KEY"),
    chromium: process.env.CHROMIUM ?? "/usr/bin/chromium",
    artifacts: process.env.GPROXY_UI_ARTIFACTS ?? join(process.cwd(), "..", "target", "ui-artifacts"),
  };
}

/** @param {string} executablePath */
export async function launch(executablePath) {
  return chromium.launch({
    executablePath,
    headless: true,
    // Root in a container has no user namespace sandbox.
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
}

/**
 * Records uncaught errors and console errors of `page`. Chrome also logs
 * every 4xx answer to fetch as "Failed to load resource"; those are counted
 * apart, since some steps expect a 401 or 403.
 *
 * @param {import("playwright-core").Page} page
 */
export function watchConsole(page) {
  /** @type {string[]} */
  const errors = [];
  /** @type {string[]} */
  const network = [];
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if (text.startsWith("Failed to load resource")) network.push(text);
    else errors.push(text);
  });
  return { errors, network };
}

/**
 * axe-core on the current page: no serious or critical violation.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} name
 */
export async function checkA11y(page, name) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  if (bad.length > 0) {
    const detail = bad
      .map(
        (v) =>
          `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes
            .map((n) => n.target.join(" "))
            .slice(0, 5)
            .join("\n    ")}`,
      )
      .join("\n  ");
    throw new Error(`axe on ${name}: ${bad.length} serious/critical violation(s)\n  ${detail}`);
  }
  return result.violations.length;
}

/**
 * Screenshots of the current page at desktop and phone widths.
 *
 * @param {import("playwright-core").Page} page
 * @param {string} dir
 * @param {string} name
 */
export async function screenshots(page, dir, name) {
  await mkdir(dir, { recursive: true });
  const before = page.viewportSize();
  for (const [label, size] of /** @type {const} */ ([
    ["desktop", DESKTOP],
    ["phone", PHONE],
  ])) {
    await page.setViewportSize(size);
    await page.waitForTimeout(150);
    await page.screenshot({ path: join(dir, `${name}-${label}.png`), fullPage: true });
    // Nothing may widen the page beyond the screen (wide tables scroll
    // inside their own region).
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > size.width) throw new Error(`${name}: the page is ${width} px wide at ${size.width} px`);
  }
  if (before) await page.setViewportSize(before);
}

/**
 * Polls `check` until it returns a truthy value (or throws after `ms`).
 *
 * @template T
 * @param {string} what
 * @param {() => Promise<T>} check
 * @param {number} [ms]
 * @returns {Promise<T>}
 */
export async function eventually(what, check, ms = 15000) {
  const deadline = Date.now() + ms;
  /** @type {unknown} */
  let last;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** @param {string} name */
export function step(name) {
  console.log(`e2e: ${name}`);
}
