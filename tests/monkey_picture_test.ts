/**
 * monkey's topology picture in a real browser (Debian's chromium through npm playwright-core): the
 * lab topology applied to a file store is drawn above the links table, a link changes colour after a
 * store write without a reload, and a click on a link shows its two ends. Leaves a screenshot in
 * tests/artifacts/monkey-topology.png.
 */
import assert from "node:assert/strict";
import { applyTopology } from "../dsl/apply.ts";
import { lintTopology } from "../dsl/lint.ts";
import { CONDITION_COLORS } from "../mod/picture/model.ts";
import { startMonkey } from "../mod/monkey/mod.ts";
import { openStore } from "../mod/store/mod.ts";
import { putVxlanState } from "./lib/link_state.ts";
import { launchChromium, openReadyPage } from "./lib/browser.ts";
import { TEST_TOKEN } from "./lib/monkey.ts";

const LAB = new URL("../pod_specs/lab.topo", import.meta.url).pathname;
const SCREENSHOT = new URL("./artifacts/monkey-topology.png", import.meta.url).pathname;
const LINK = "default.primary-pod.in1--lab-ns.pair-pod.in2";

/** `#rrggbb` as the browser computes it, `rgb(r, g, b)`. */
function rgb(hex: string): string {
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
  return `rgb(${r}, ${g}, ${b})`;
}

Deno.test({
  name:
    "monkey page: the lab's picture above the links table follows a store write, and a click shows a link's ends",
  // playwright keeps its pipe to the browser and some timers until the process ends.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "rt-monkey-picture-" });
    const store = await openStore({ kind: "file", dir });
    const server = startMonkey({ store, listen: { hostname: "127.0.0.1", port: 0 }, token: TEST_TOKEN });
    const browser = await launchChromium();
    try {
      const topo = lintTopology(await Deno.readTextFile(LAB), LAB).topology;
      await applyTopology(topo, store);
      // One end of the router's IPv6 link is made: partial.
      await putVxlanState(store, "default/client-v6/in1/lab-ns/router/r2", 7002, {
        "lab-ns/router/r2": { container_id: "c1", up: true },
      });
      const { page, pageErrors } = await openReadyPage(browser, server.url);

      // The picture is there, above the table, and names every pod and link.
      const picture = page.locator("#picture svg");
      await picture.waitFor();
      const [pictureBox, tableBox] = [
        await picture.boundingBox(),
        await page.locator("#links").boundingBox(),
      ];
      assert.ok(pictureBox && tableBox && pictureBox.y + pictureBox.height <= tableBox.y, "above the table");
      for (const p of topo.pods) {
        assert.equal(
          await page.locator(`#picture g.pod[data-pod="${p.namespace}/${p.name}"]`).count(),
          1,
          p.name,
        );
      }
      const link = (id: string) => page.locator(`#picture g.link[data-link="${id}"]`);
      for (const l of topo.links) assert.equal(await link(l.id).count(), 1, l.id);
      assert.match(
        await link("lab-ns.router.r2--default.client-v6.in1").getAttribute("class") ?? "",
        /state-partial/,
      );
      assert.match(await link(LINK).getAttribute("class") ?? "", /\bvxlan\b.*state-pending/);
      const stroke = () =>
        link(LINK).locator("path.line").evaluate((p) => (globalThis as any).getComputedStyle(p).stroke);
      assert.equal(await stroke(), rgb(CONDITION_COLORS.pending));

      // The plugin makes both ends of the link: the page shows it up within a refresh, no reload.
      const pictures: number[] = [];
      page.on("response", (r) => r.url().endsWith("/api/picture") && pictures.push(r.status()));
      await putVxlanState(store, "default/primary-pod/in1/lab-ns/pair-pod/in2", 7001, {
        "default/primary-pod/in1": { container_id: "c2", up: true },
        "lab-ns/pair-pod/in2": { container_id: "c3", up: true },
      });
      await page.waitForFunction(
        (id) =>
          (globalThis as any).document.querySelector(`#picture g.link[data-link="${id}"]`)?.classList
            .contains("state-up"),
        LINK,
        { timeout: 15_000 },
      );
      assert.equal(await stroke(), rgb(CONDITION_COLORS.up), "the same colour as the SVG's");
      assert.doesNotMatch(await link(LINK).getAttribute("class") ?? "", /state-pending/);
      assert.ok(pictures.includes(200), "the VNI is new: the picture was fetched again");
      assert.match(await link(LINK).locator("title").textContent() ?? "", /vni 7001/);

      // A click on the line shows the link's two ends, and marks its row in the table.
      const at = await link(LINK).locator("path.hit").evaluate((p: any) => {
        p.scrollIntoView({ block: "center" });
        const mid = p.getPointAtLength(p.getTotalLength() / 2);
        const m = p.getScreenCTM();
        return { x: mid.x * m.a + mid.y * m.c + m.e, y: mid.x * m.b + mid.y * m.d + m.f };
      });
      await page.mouse.click(at.x, at.y);
      await page.locator("#picture-detail", { hasText: LINK }).waitFor();
      assert.equal(
        await page.textContent('#picture-detail [data-end="a"]'),
        "default/primary-pod:in1 192.168.2.100/24 @node01 (not attached)",
      );
      assert.equal(
        await page.textContent('#picture-detail [data-end="b"]'),
        "lab-ns/pair-pod:in2 192.168.2.101/24 @node02 (not attached)",
      );
      assert.match(await page.textContent("#picture-detail") ?? "", /up · vxlan · vni 7001/);
      assert.match(await link(LINK).getAttribute("class") ?? "", /selected/);
      assert.equal(await page.locator(`#links tr.selected[data-link="${LINK}"]`).count(), 1);

      // "Fit" scales the picture to the section's width, "Actual size" back.
      const natural = (await picture.boundingBox())!.width;
      await page.click("#picture-fit");
      const fitted = (await picture.boundingBox())!.width;
      assert.ok(fitted > natural, `a small lab grows to the section's width (${natural} -> ${fitted} px)`);
      await page.click("#picture-fit");
      assert.equal((await picture.boundingBox())!.width, natural);

      await Deno.mkdir(new URL("./artifacts/", import.meta.url), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.deepEqual(pageErrors, [], "the page runs without script errors");
    } finally {
      await browser.close();
      await server.shutdown();
      await store.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
