/** Debian's chromium, headless, driven by npm playwright-core: the browser tests' one way to start it. */
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

/** Launches headless chromium; a missing browser is an error that says how to install it. */
export async function launchChromium(): Promise<Browser> {
  await Deno.stat(CHROMIUM).catch(() => {
    throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (tests/run.sh installs it)`);
  });
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/**
 * Opens `url` (a monkey UI) in a 1280×1000 page and waits until the page says it is ready
 * (`body[data-ready=true]`). `pageErrors` collects every script error and console error the page
 * reports from the start, so a test can assert there were none.
 */
export async function openReadyPage(
  browser: Browser,
  url: string,
): Promise<{ page: Page; pageErrors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const pageErrors: string[] = [];
  page.on("pageerror", (e) => pageErrors.push(e.message));
  page.on("console", (m) => m.type() === "error" && pageErrors.push(m.text()));
  await page.goto(url);
  await page.waitForSelector("body[data-ready=true]");
  return { page, pageErrors };
}
