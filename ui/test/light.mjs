// Drives the browser light client in headless Chromium (playwright-core, Debian's chromium) and
// prints what it saw as one JSON line. Used by tests/ui.rs and scripts/ui-screenshots.sh.
//
//   node ui/test/light.mjs <base url> <blocks> [--expect-invalid] [--screenshot FILE]
//
// Waits until the page has verified <blocks> blocks (or, with --expect-invalid, until it shows
// a block as invalid), then checks an account proof in the page: the real one must verify, one
// with a flipped sibling byte must be refused. Exits non-zero on a timeout or a page error.
import { chromium } from "playwright-core";

const [base, blocksArg, ...rest] = process.argv.slice(2);
const blocks = Number(blocksArg);
const expectInvalid = rest.includes("--expect-invalid");
const shot = rest.includes("--screenshot") ? rest[rest.indexOf("--screenshot") + 1] : null;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));
try {
  await page.goto(`${base}/ui/`);
  const deadline = Date.now() + 120_000;
  let s;
  for (;;) {
    s = await page.evaluate(() => ({
      state: document.body.dataset.state ?? "pending",
      height: window.lightClient.state.verifiedHeight,
      root: window.lightClient.state.root,
      invalid: window.lightClient.state.invalid,
      proofMs: window.lightClient.state.proofMs,
      status: document.getElementById("status").textContent,
    }));
    if (s.invalid && !expectInvalid) break;
    if (expectInvalid ? s.invalid : s.height >= blocks) break;
    if (Date.now() > deadline) throw new Error(`timed out: ${JSON.stringify(s)}`);
    await page.waitForTimeout(250);
  }
  let account = null;
  if (!s.invalid) {
    account = await page.evaluate(async (h) => {
      const r = await fetch(`/accounts/1?height=${h}`);
      const a = await r.json();
      const good = window.lightClient.verifyAccountProof(a.proof, 1, h);
      const bytes = a.proof.match(/../g);
      const i = bytes.length - 5; // inside the last sibling
      bytes[i] = ((parseInt(bytes[i], 16) ^ 1) & 0xff).toString(16).padStart(2, "0");
      let refused = null;
      try { window.lightClient.verifyAccountProof(bytes.join(""), 1, h); } catch (e) { refused = e.message; }
      // The transfer commitment: block 1's as served matches its proof; one changed amount does not.
      const block = await (await fetch("/blocks/1")).json();
      const proven = (await (await fetch("/blocks/1/proof")).json()).snarkjs.public[2];
      const honest = window.lightClient.commitment(block);
      block.transfers[0].amount += 1;
      const edited = window.lightClient.commitment(block);
      return { balance: String(good.balance), nonce: String(good.nonce), served: a.account, refused,
        commitment: { proven, honest, edited } };
    }, s.height);
    // The page's own form, as a person would use it.
    await page.fill("#account-index", "1");
    await page.click("#account-form button");
    await page.waitForFunction(() => document.getElementById("account-result").textContent.length > 0);
    account.form = await page.textContent("#account-result");
  }
  if (shot) await page.screenshot({ path: shot, fullPage: true });
  console.log(JSON.stringify({ ...s, account, errors }));
} finally {
  await browser.close();
}
