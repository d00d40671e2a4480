// In-browser proof verification time (BENCHMARKS.md): the light client page verifies <n> block
// proofs in headless Chromium (snarkjs in a Web Worker); the same proofs are verified by the
// same snarkjs in Node in the same run, as the reference.
//
//   node ui/test/bench.mjs <base url> <n>
import { chromium } from "playwright-core";
import * as snarkjs from "snarkjs";

const [base, nArg] = process.argv.slice(2);
const n = Number(nArg);
const get = async (p) => (await fetch(`${base}${p}`)).json();
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, first_ms: xs[0], median_ms: s[Math.floor(s.length / 2)], mean_ms: xs.reduce((a, b) => a + b, 0) / xs.length };
};

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args: ["--no-sandbox"] });
let page;
try {
  const p = await browser.newPage();
  const t0 = Date.now();
  await p.goto(`${base}/ui/`);
  await p.waitForFunction((n) => window.lightClient.state.verifiedHeight >= n || window.lightClient.state.invalid, n, { timeout: 300_000 });
  page = await p.evaluate(() => ({ ms: window.lightClient.state.proofMs, invalid: window.lightClient.state.invalid }));
  page.wall_s = (Date.now() - t0) / 1000;
} finally {
  await browser.close();
}
if (page.invalid) throw new Error(page.invalid);

const vk = (await get("/vk")).snarkjs;
const node = [];
for (let h = 1; h <= n; h++) {
  const pr = (await get(`/blocks/${h}/proof`)).snarkjs;
  const t = performance.now();
  if (!(await snarkjs.groth16.verify(vk, pr.public, pr.proof))) throw new Error(`block ${h} does not verify in Node`);
  node.push(performance.now() - t);
}
console.log(JSON.stringify({ browser: { ...stats(page.ms.slice(0, n)), page_wall_s: page.wall_s }, node: stats(node) }));
process.exit(0);
