// The browser light client (docs/ui.md). Trust anchor: the genesis the page recomputes itself and
// the verifying-key hash the genesis pins; everything else the node serves is checked before use.
"use strict";

const P = 21888242871839275222246405745257275088696311157297823662689037894645226208583n; // BN254 base field
const R = 21888242871839275222246405745257275088548364400416034343698204186575808495617n; // scalar field
const HALF_P = (P - 1n) / 2n;

const $ = (id) => document.getElementById(id);
const state = {
  verifiedHeight: 0,
  root: null,        // decimal string of the verified state root
  roots: new Map(),  // height -> decimal root, from genesis on
  invalid: null,     // the reason, once anything failed
  proofMs: [],
  vkHash: null,
};
window.lightClient = { state, verifyAccountProof: null };

// ---------------------------------------------------------------------------------------------
// Small helpers: HTTP, bytes, SHA-256 (pure JS: crypto.subtle needs a secure context, and a node
// on a LAN address is served over plain HTTP).

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  const text = await r.text();
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${text}`);
  return JSON.parse(text);
}

function hexToBytes(hex) {
  if (typeof hex !== "string" || hex.length % 2 !== 0 || /[^0-9a-f]/i.test(hex)) throw new Error("not hex");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
  return out;
}
const bytesToHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

function leToBigInt(b) {
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  return x;
}
function bigIntToLe(x, n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) { b[i] = Number(x & 0xffn); x >>= 8n; }
  return b;
}
const u32le = (b, at) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
const u64le = (b, at) => leToBigInt(b.subarray(at, at + 8));

const K256 = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
function sha256(msg) {
  const len = msg.length;
  const padded = new Uint8Array(((len + 9 + 63) >> 6) << 6);
  padded.set(msg);
  padded[len] = 0x80;
  const bits = BigInt(len) * 8n;
  for (let i = 0; i < 8; i++) padded[padded.length - 1 - i] = Number((bits >> BigInt(8 * i)) & 0xffn);
  const h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const rotr = (x, n) => (x >>> n) | (x << (32 - n));
  for (let off = 0; off < padded.length; off += 64) {
    for (let i = 0; i < 16; i++) {
      w[i] = (padded[off + 4 * i] << 24) | (padded[off + 4 * i + 1] << 16) | (padded[off + 4 * i + 2] << 8) | padded[off + 4 * i + 3];
    }
    for (let i = 16; i < 64; i++) {
      const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
      const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let [a, b, c, d, e, f, g, hh] = h;
    for (let i = 0; i < 64; i++) {
      const t1 = (hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i]) | 0;
      const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) { out[4 * i] = h[i] >>> 24; out[4 * i + 1] = h[i] >>> 16; out[4 * i + 2] = h[i] >>> 8; out[4 * i + 3] = h[i]; }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Display.

function check(cls, text) {
  const li = document.createElement("li");
  li.className = cls;
  li.textContent = text;
  $("checks").appendChild(li);
}

function fail(reason) {
  if (!state.invalid) state.invalid = reason;
  $("status").className = "status invalid";
  $("status").textContent = `invalid: ${reason}`;
  document.body.dataset.state = "invalid";
  check("invalid", reason);
}

function showHead() {
  $("head").textContent = String(state.verifiedHeight);
  $("root").textContent = state.root;
  if (state.proofMs.length) {
    const avg = state.proofMs.reduce((a, b) => a + b, 0) / state.proofMs.length;
    $("per-proof").textContent = `${avg.toFixed(0)} ms`;
  }
  document.body.dataset.verifiedHeight = String(state.verifiedHeight);
  if (!state.invalid) {
    $("status").className = "status ok";
    $("status").textContent = `chain verified from genesis to height ${state.verifiedHeight}`;
    document.body.dataset.state = "ok";
  }
}

function blockRow(h, oldRoot, newRoot, ms, result, ok) {
  const tr = document.createElement("tr");
  tr.className = ok ? "ok" : "invalid";
  tr.dataset.height = String(h);
  const short = (r) => (r.length > 24 ? `${r.slice(0, 12)}…${r.slice(-8)}` : r);
  for (const [text, cls] of [[h, ""], [oldRoot, "mono"], [newRoot, "mono"], [ms, ""], [result, "result"]]) {
    const td = document.createElement("td");
    td.textContent = cls === "mono" ? short(String(text)) : String(text);
    if (cls === "mono") td.title = String(text);
    if (cls) td.className = cls;
    tr.appendChild(td);
  }
  const body = $("blocks").querySelector("tbody");
  body.insertBefore(tr, body.firstChild); // newest first
}

// ---------------------------------------------------------------------------------------------
// Poseidon tree (circuits/src/merkle.rs): leaf = Poseidon(x, y, balance, nonce), empty leaf 0,
// node = Poseidon(left, right), E[l+1] = Poseidon(E[l], E[l]).

let H2, H3, H4, babyjub, empty;

function leaf(pubkeyHex, balance, nonce) {
  const packed = hexToBytes(pubkeyHex);
  const p = babyjub.unpackPoint(packed);
  if (!p) throw new Error(`public key ${pubkeyHex} is not a Baby Jubjub point`);
  return H4(babyjub.F.toObject(p[0]), babyjub.F.toObject(p[1]), BigInt(balance), BigInt(nonce));
}

function genesisRoot(genesis) {
  let level = new Map();
  genesis.accounts.forEach((a, i) => {
    if (a.index !== i) throw new Error("genesis accounts out of order");
    level.set(BigInt(i), leaf(a.pubkey, a.balance, 0));
  });
  for (let l = 0; l < genesis.depth; l++) {
    const next = new Map();
    for (const idx of level.keys()) {
      const parent = idx >> 1n;
      if (next.has(parent)) continue;
      const left = level.get(parent * 2n) ?? empty[l];
      const right = level.get(parent * 2n + 1n) ?? empty[l];
      next.set(parent, H2(left, right));
    }
    level = next;
  }
  return level.get(0n) ?? empty[genesis.depth];
}

// The transfer commitment (circuits/src/block.rs, tx_commitment): c = Poseidon(chain, producer),
// then c = Poseidon(c, message, recipient index) per applied transfer, where the message is the
// signed Poseidon(w0, w1, to.x, to.y) of the transfer's fields (circuits/src/transfer.rs).
const P64 = 1n << 64n, P128 = 1n << 128n, P192 = 1n << 192n;
function transferMessage(t, chainId) {
  let toIndex = BigInt(t.to_index), tx = 0n, ty = 0n, kind = 1n;
  if (t.to_key) {
    const p = babyjub.unpackPoint(hexToBytes(t.to_key));
    if (!p) throw new Error(`recipient key ${t.to_key} is not a Baby Jubjub point`);
    tx = babyjub.F.toObject(p[0]); ty = babyjub.F.toObject(p[1]); toIndex = 0n; kind = 2n;
  }
  const w0 = (BigInt(t.amount) + BigInt(t.fee) * P64 + BigInt(t.nonce) * P128) % R;
  const w1 = (BigInt(t.from) + toIndex * P64 + BigInt(chainId) * P128 + kind * P192) % R;
  return H4(w0, w1, tx, ty);
}
function commitment(block, chainId) {
  let c = H2(BigInt(chainId), BigInt(block.producer));
  for (const t of block.transfers) c = H3(c, transferMessage(t, chainId), BigInt(t.to_index));
  return c;
}

// An account proof (AccountProof::encode): version, depth, index u64, account flag (+80 bytes),
// bitmap of non-empty siblings, the siblings. Returns the account, or throws why it fails.
function verifyAccountProof(hex, index, rootDecimal) {
  const b = hexToBytes(hex);
  if (b.length < 11 || b[0] !== 1) throw new Error("malformed account proof");
  const depth = b[1];
  if (depth !== empty.length - 1) throw new Error(`proof depth ${depth}, chain depth ${empty.length - 1}`);
  const idx = u64le(b, 2);
  if (idx !== BigInt(index)) throw new Error(`proof for index ${idx}, asked ${index}`);
  let at = 11;
  let account = null;
  let node = 0n;
  if (b[10] === 1) {
    const a = b.subarray(at, at + 80);
    if (a.length !== 80) throw new Error("truncated account");
    const x = leToBigInt(a.subarray(0, 32)), y = leToBigInt(a.subarray(32, 64));
    if (x >= R || y >= R) throw new Error("non-canonical public key");
    account = { balance: u64le(a, 64), nonce: u64le(a, 72) };
    node = H4(x, y, account.balance, account.nonce);
    at += 80;
  } else if (b[10] !== 0) {
    throw new Error("bad account flag");
  }
  const bmLen = Math.ceil(depth / 8);
  const bitmap = leToBigInt(b.subarray(at, at + bmLen));
  at += bmLen;
  for (let l = 0; l < depth; l++) {
    let sib = empty[l];
    if ((bitmap >> BigInt(l)) & 1n) {
      const s = b.subarray(at, at + 32);
      if (s.length !== 32) throw new Error("truncated siblings");
      sib = leToBigInt(s);
      if (sib >= R) throw new Error("non-canonical sibling");
      at += 32;
    }
    node = (idx >> BigInt(l)) & 1n ? H2(sib, node) : H2(node, sib);
  }
  if (at !== b.length) throw new Error("bytes after the proof");
  if (node.toString() !== rootDecimal) throw new Error("the proof does not reach the verified root");
  return account;
}
window.lightClient.commitment = (block) => commitment(block, genesis.chain_id).toString();
window.lightClient.verifyAccountProof = (hex, index, height) =>
  verifyAccountProof(hex, index, state.roots.get(height ?? state.verifiedHeight));

// ---------------------------------------------------------------------------------------------
// The verifying key: the key file's body is arkworks' compressed encoding, hashed into the pin;
// the snarkjs JSON the node serves beside it must compress to exactly that body.

function g1Compressed(p) {
  const [x, y, z] = p.map(BigInt);
  if (z === 0n) { const b = new Uint8Array(32); b[31] = 0x40; return b; }
  const b = bigIntToLe(x, 32);
  if (y > HALF_P) b[31] |= 0x80;
  return b;
}
function g2Compressed(p) {
  const [[x0, x1], [y0, y1], [z0, z1]] = p.map((c) => c.map(BigInt));
  const b = new Uint8Array(64);
  if (z0 === 0n && z1 === 0n) { b[63] = 0x40; return b; }
  b.set(bigIntToLe(x0, 32), 0);
  b.set(bigIntToLe(x1, 32), 32);
  const negative = y1 !== 0n ? y1 > HALF_P : y0 > HALF_P;
  if (negative) b[63] |= 0x80;
  return b;
}
function vkCompressed(vk) {
  const parts = [g1Compressed(vk.vk_alpha_1), g2Compressed(vk.vk_beta_2), g2Compressed(vk.vk_gamma_2), g2Compressed(vk.vk_delta_2), bigIntToLe(BigInt(vk.IC.length), 8), ...vk.IC.map(g1Compressed)];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

// The verifying-key file (docs/circuit.md): magic, depth, capacity, flags, seed, [transcript],
// body length, body, SHA-256 of everything before.
function parseVkFile(hex) {
  const b = hexToBytes(hex);
  const magic = new TextDecoder().decode(b.subarray(0, 6));
  if (magic !== "RSTMVK") throw new Error("not a verifying-key file");
  const flags = u32le(b, 16);
  const headerLen = 36 + (flags & 2 ? 64 : 0);
  const bodyLen = Number(u64le(b, headerLen - 8));
  if (headerLen + bodyLen + 32 !== b.length) throw new Error("verifying-key file length");
  const content = b.subarray(0, b.length - 32);
  if (bytesToHex(sha256(content)) !== bytesToHex(b.subarray(b.length - 32))) throw new Error("verifying-key file hash");
  return {
    depth: u32le(b, 8),
    capacity: u32le(b, 12),
    devnet: (flags & 1) === 1,
    transcript: flags & 2 ? bytesToHex(b.subarray(28, 92)) : null,
    body: b.subarray(headerLen, headerLen + bodyLen),
  };
}

// ---------------------------------------------------------------------------------------------
// Proofs, verified in a Web Worker.

const worker = new Worker("verify-worker.js");
let nextId = 0;
const pending = new Map();
worker.onmessage = (e) => {
  const p = pending.get(e.data.id);
  pending.delete(e.data.id);
  if (e.data.error) p.reject(new Error(e.data.error)); else p.resolve(e.data);
};
worker.onerror = (e) => fail(`verifier worker: ${e.message}`);
function verifyInWorker(vk, publicSignals, proof) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.postMessage({ id, vk, publicSignals, proof });
  });
}

let genesis, vkJson, busy = false;

async function verifyBlock(h) {
  const p = await getJSON(`/blocks/${h}/proof`);
  const pub = p.snarkjs.public;
  const env = hexToBytes(p.envelope);
  const old = state.root;
  const why = [];
  if (!Array.isArray(pub) || pub.length !== 5) why.push("public inputs are not five values");
  else {
    if (pub[0] !== old) why.push(`old root ${pub[0]} is not the verified root ${old}`);
    if (BigInt(pub[3]) !== BigInt(genesis.chain_id)) why.push(`chain id ${pub[3]}, genesis says ${genesis.chain_id}`);
    if (BigInt(pub[4]) !== BigInt(h)) why.push(`height input ${pub[4]}, expected ${h}`);
  }
  if (bytesToHex(env.subarray(env.length - 32)) !== state.vkHash) why.push("the envelope names another verifying key");
  // The block's transfers must be the ones the proof commits to.
  const block = await getJSON(`/blocks/${h}`);
  if (Array.isArray(pub) && commitment(block, genesis.chain_id).toString() !== pub[2]) {
    why.push("its transfers do not match the proven commitment");
  }
  if (why.length) {
    blockRow(h, old, pub?.[1] ?? "?", "—", why.join("; "), false);
    fail(`block ${h}: ${why.join("; ")}`);
    return false;
  }
  const r = await verifyInWorker(vkJson, pub, p.snarkjs.proof);
  if (!r.ok) {
    blockRow(h, old, pub[1], r.ms.toFixed(0), "proof does not verify", false);
    fail(`block ${h}: the proof does not verify`);
    return false;
  }
  state.proofMs.push(r.ms);
  state.root = pub[1];
  state.roots.set(h, pub[1]);
  state.verifiedHeight = h;
  blockRow(h, old, pub[1], r.ms.toFixed(0), "valid", true);
  showHead();
  return true;
}

async function follow() {
  if (busy || state.invalid) return;
  busy = true;
  try {
    const latest = await getJSON("/proven/latest");
    $("proven").textContent = String(latest.height);
    while (!state.invalid && state.verifiedHeight < latest.height) {
      if (!(await verifyBlock(state.verifiedHeight + 1))) break;
    }
  } catch (e) {
    // The node being unreachable is not a verification failure: say so and retry.
    $("status").textContent = `waiting for the node: ${e.message}`;
  } finally {
    busy = false;
  }
}

async function start() {
  const poseidon = await circomlib.buildPoseidon();
  babyjub = await circomlib.buildBabyjub();
  H2 = (a, b) => poseidon.F.toObject(poseidon([a, b]));
  H3 = (a, b, c) => poseidon.F.toObject(poseidon([a, b, c]));
  H4 = (a, b, c, d) => poseidon.F.toObject(poseidon([a, b, c, d]));

  genesis = await getJSON("/genesis");
  empty = [0n];
  for (let l = 0; l < genesis.depth; l++) empty.push(H2(empty[l], empty[l]));
  const root = genesisRoot(genesis).toString();
  if (root !== genesis.root) return fail(`genesis root: computed ${root}, the node says ${genesis.root}`);
  check("ok", `genesis root recomputed with circomlibjs Poseidon over ${genesis.accounts.length} accounts at depth ${genesis.depth}`);
  state.root = root;
  state.roots.set(0, root);

  const vk = await getJSON("/vk");
  if (vk.system === "halo2") {
    // halo2 (IPA) verification is not in the browser: the CLI light client verifies those chains.
    return fail("this chain is proven with halo2: verify it with `rustorium light sync` (this page verifies Groth16 chains)");
  }
  const file = parseVkFile(vk.file);
  state.vkHash = bytesToHex(sha256(file.body));
  const pinned = new URLSearchParams(location.search).get("vk_hash")
    ?? genesis.verifying_keys.find((k) => k.capacity === file.capacity)?.hash;
  if (pinned && pinned !== state.vkHash) return fail(`verifying key ${state.vkHash} is not the pinned ${pinned}`);
  if (bytesToHex(vkCompressed(vk.snarkjs)) !== bytesToHex(file.body)) return fail("the snarkjs verifying key differs from the key file");
  vkJson = vk.snarkjs;
  if (pinned) check("ok", `verifying key ${state.vkHash.slice(0, 16)}… matches the genesis pin (capacity ${file.capacity})`);
  else check("warn", `no pin for capacity ${file.capacity} in the genesis: trusting the node's key ${state.vkHash.slice(0, 16)}…`);
  check(file.devnet ? "warn" : "ok", file.devnet ? "insecure devnet key (public seed)" : file.transcript ? `ceremony key, transcript ${file.transcript.slice(0, 16)}…` : "external key");
  showHead();
  await follow();
  setInterval(follow, 1000);
}

$("account-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const index = $("account-index").value;
  const out = $("account-result");
  try {
    const h = state.verifiedHeight;
    const root = state.roots.get(h);
    const a = await getJSON(`/accounts/${index}?height=${h}`);
    const acct = verifyAccountProof(a.proof, index, root);
    out.className = "status ok";
    out.textContent = acct
      ? `account ${index} at height ${h}: balance ${acct.balance}, nonce ${acct.nonce} (proof verified against the verified root)`
      : `index ${index} is empty at height ${h} (exclusion proof verified)`;
  } catch (err) {
    out.className = "status invalid";
    out.textContent = `invalid: ${err.message}`;
  }
});

start().catch((e) => fail(e.message));
