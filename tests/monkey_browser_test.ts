/**
 * monkey's page in a real browser (Debian's chromium, driven by npm playwright-core under Deno):
 * it loads, shows the seeded data, refuses a bad range inline, saves a pool and a gateway through the
 * forms, releases an allocation with its button; each outcome is then read from the store itself.
 * Leaves a screenshot in tests/artifacts/monkey.png.
 */
import assert from "node:assert/strict";
import { launchChromium, openReadyPage } from "./lib/browser.ts";
import { TEST_TOKEN, withMonkey } from "./lib/monkey.ts";

const SCREENSHOT = new URL("./artifacts/monkey.png", import.meta.url).pathname;

Deno.test({
  name: "monkey page: edit a pool and a gateway through the forms, release an allocation, in chromium",
  // playwright keeps its pipe to the browser and some timers until the process ends.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withMonkey("file", async (f) => {
      const browser = await launchChromium();
      try {
        const { page, pageErrors } = await openReadyPage(browser, f.url);

        // The seeded data is on the page.
        assert.match(await page.textContent("#store") ?? "", /sqlite store/);
        const defaultCard = page.locator('.pool[data-namespace="default"]');
        assert.match(await defaultCard.textContent() ?? "", /4 used · 0 gateway · 5 free of 9/);
        assert.equal(await page.locator("#gateways tbody tr").count(), 3);
        assert.equal(await page.locator("#allocations tbody tr").count(), 5);
        assert.match(await page.textContent("#links tbody") ?? "", /lab\/r1:eth1 10\.10\.0\.1\/30 @node03/);

        // Search and sort work on the table.
        await page.fill("#search", "db-0");
        assert.deepEqual(
          await page.locator("#allocations tbody tr").evaluateAll((rows) =>
            rows.map((r) => r.getAttribute("data-id"))
          ),
          ["ccc333"],
        );
        await page.fill("#search", "");
        await page.click('#allocations th[data-key="ip"]'); // ip is the default key: this flips it to descending
        const ips = await page.locator("#allocations tbody tr td:nth-child(2)").allTextContents();
        assert.deepEqual(ips, ["fd00:1::10", "10.0.2.8", "10.0.1.4", "10.0.1.3", "10.0.1.2"]);

        // Without the token, a save is refused with the API's 401 message inline.
        await page.fill("#pool-namespace", "team-a");
        await page.fill("#pool-ranges", "10.0.5.[2-9]");
        await page.click("#pool-form button[type=submit]");
        await page.waitForSelector("#pool-error:not(:empty)");
        assert.match(await page.textContent("#pool-error") ?? "", /Bearer.*Enter the token/);
        assert.equal(await f.store.get("/anchor/ns/team-a"), undefined);

        await page.fill("#token", TEST_TOKEN);
        await page.click("#token-form button[type=submit]");
        assert.match(await page.textContent("#token-state") ?? "", /token set/);

        // A bad range: the API's 400 shows inline, naming the item, and the field is marked.
        await page.fill("#pool-ranges", "10.0.5.[2-9],10.0.5.[9-3]");
        await page.click("#pool-form button[type=submit]");
        await page.locator("#pool-error", { hasText: "reversed" }).waitFor();
        assert.match(
          await page.textContent("#pool-error") ?? "",
          /pool item "10\.0\.5\.\[9-3\]": reversed range/,
        );
        assert.equal(await page.getAttribute("#pool-ranges", "aria-invalid"), "true");
        assert.equal(await f.store.get("/anchor/ns/team-a"), undefined, "nothing is written for a bad range");

        // Fixed, it saves: the error clears, the card appears, the store holds it.
        await page.fill("#pool-ranges", "10.0.5.[2-9]");
        await page.click("#pool-form button[type=submit]");
        await page.waitForSelector('.pool[data-namespace="team-a"]');
        assert.equal(await page.textContent("#pool-error"), "");
        assert.equal((await f.store.get("/anchor/ns/team-a"))?.value, "10.0.5.[2-9]");

        // Editing an existing pool through its card's Edit button.
        await defaultCard.locator("button", { hasText: "Edit" }).click();
        assert.equal(await page.inputValue("#pool-ranges"), "10.0.1.[2-9],10.0.2.8");
        await page.fill("#pool-ranges", "10.0.1.[2-20],10.0.2.8");
        await page.click("#pool-form button[type=submit]");
        await page.locator('.pool[data-namespace="default"]', { hasText: "free of 20" }).waitFor();
        assert.equal((await f.store.get("/anchor/ns/default"))?.value, "10.0.1.[2-20],10.0.2.8");

        // Someone else changes a pool while it is being edited here: the save is a 409 shown inline, and
        // the other edit stays.
        await page.locator('.pool[data-namespace="team-a"] button', { hasText: "Edit" }).click();
        await f.store.put("/anchor/ns/team-a", "10.0.5.[2-4]");
        await page.fill("#pool-ranges", "10.0.5.[2-12]");
        await page.click("#pool-form button[type=submit]");
        await page.locator("#pool-error", { hasText: "changed by someone else" }).waitFor();
        assert.equal((await f.store.get("/anchor/ns/team-a"))?.value, "10.0.5.[2-4]");
        await page.locator('.pool[data-namespace="team-a"]', { hasText: "10.0.5.[2-4]" }).waitFor();

        // A gateway outside its subnet is refused inline; a good one is saved.
        await page.fill("#gw-subnet", "10.0.5.0/24");
        await page.fill("#gw-gateway", "10.0.6.1");
        await page.click("#gw-form button[type=submit]");
        await page.waitForSelector("#gw-error:not(:empty)");
        assert.match(await page.textContent("#gw-error") ?? "", /10\.0\.6\.1.*outside the subnet/);
        assert.equal(await f.store.get("/anchor/gw/10.0.5.0/24"), undefined);
        await page.fill("#gw-gateway", "10.0.5.1");
        await page.click("#gw-form button[type=submit]");
        await page.waitForSelector('#gateways tr[data-subnet="10.0.5.0/24"]');
        assert.equal((await f.store.get("/anchor/gw/10.0.5.0/24"))?.value, "10.0.5.1");

        // Release: the first click arms the button, the second releases.
        const release = page.locator('button[data-release="ddd444"]');
        await release.click();
        assert.match(await release.textContent() ?? "", /Release 10\.0\.1\.4\?/);
        assert.ok(await f.store.get("/anchor/cn/ddd444"), "one click releases nothing");
        await release.click();
        await page.waitForSelector('#allocations tr[data-id="ddd444"]', { state: "detached" });
        assert.equal(await f.store.get("/anchor/cn/ddd444"), undefined);
        assert.equal(await f.store.get("/anchor/ip/10.0.1.4"), undefined, "the guard goes with the record");
        assert.ok(await f.store.get("/anchor/cn/aaa111"), "the other allocations stay");

        await page.fill("#pool-namespace", "team-b");
        await page.fill("#pool-ranges", "10.0.7.[1-300]");
        await page.click("#pool-form button[type=submit]");
        await page.waitForSelector("#pool-error:not(:empty)");
        await Deno.mkdir(new URL("./artifacts/", import.meta.url), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
        assert.deepEqual(
          pageErrors.filter((e) => !/status of 40\d/.test(e)),
          [],
          "the page runs without script errors",
        );
      } finally {
        await browser.close();
      }
    });
  },
});
