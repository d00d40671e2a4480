// Drives the explorer and the operator dashboard in headless Chromium and prints what they
// showed as one JSON line (tests/ui.rs, scripts/ui-screenshots.sh):
//
//   node ui/test/pages.mjs <base url> [--screenshots DIR]
//
// Dashboard: waits for live snapshots over /events until the committed height has advanced.
// Explorer: waits for the block list, opens the newest block, reads its transfers and receipts.
import { chromium } from "playwright-core";

const [base, ...rest] = process.argv.slice(2);
const dir = rest.includes("--screenshots") ? rest[rest.indexOf("--screenshots") + 1] : null;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}/ui/dashboard.html`);
  await page.waitForFunction(() => {
    const c = window.dashboard.committed;
    return c.length >= 3 && c[c.length - 1] > c[0];
  }, null, { timeout: 60_000 });
  const dashboard = await page.evaluate(() => ({
    snapshots: window.dashboard.snapshots,
    committed: window.dashboard.committed,
    shownCommitted: document.getElementById("committed").textContent,
    shownProven: document.getElementById("proven").textContent,
    backends: document.getElementById("backends").textContent,
    connection: document.getElementById("conn").textContent,
  }));
  if (dir) await page.screenshot({ path: `${dir}/ui-dashboard.png`, fullPage: true });

  await page.goto(`${base}/ui/explorer.html`);
  await page.waitForFunction(() => window.explorer.selected !== null, null, { timeout: 60_000 });
  const explorer = await page.evaluate(() => ({
    listed: window.explorer.listed,
    selected: window.explorer.selected,
    title: document.getElementById("block-title").textContent,
    transfers: document.querySelectorAll("#transfers tbody tr").length,
    receipts: [...document.querySelectorAll("#receipts tbody tr")].map((tr) => [...tr.children].map((td) => td.textContent)),
    proof: document.getElementById("proof").textContent.slice(0, 40),
  }));
  if (dir) await page.screenshot({ path: `${dir}/ui-explorer.png`, fullPage: true });
  console.log(JSON.stringify({ dashboard, explorer, errors }));
} finally {
  await browser.close();
}
