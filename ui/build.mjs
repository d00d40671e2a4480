// Bundles the pages' third-party code into dist/ (git-ignored): circomlibjs's Poseidon and Baby
// Jubjub, and snarkjs's browser build. api/build.rs embeds them (with our own files in static/)
// and the node serves them under /ui offline: no CDN. Run by scripts/setup.sh after `npm ci`.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";

const dist = new URL("./dist/", import.meta.url);
mkdirSync(dist, { recursive: true });
await build({
  entryPoints: [new URL("./src/crypto-entry.js", import.meta.url).pathname],
  bundle: true,
  format: "iife",
  globalName: "circomlib",
  platform: "browser",
  minify: true,
  outfile: new URL("circomlib.js", dist).pathname,
  logLevel: "warning",
  define: { "process.browser": "true" },
});
copyFileSync(
  new URL("./node_modules/snarkjs/build/snarkjs.min.js", import.meta.url),
  new URL("snarkjs.min.js", dist),
);
