// The explorer (docs/ui.md): what the node serves, shown as it is. Verification is the light
// client's job (index.html); this page links each proof's snarkjs files for checking elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
const short = (s) => (s && s.length > 24 ? `${s.slice(0, 12)}…${s.slice(-8)}` : String(s ?? "—"));
let shown = 0;      // highest height listed
let selected = null;
window.explorer = { selected: null, listed: [] };

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store" });
  const text = await r.text();
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status} ${text}`);
  return JSON.parse(text);
}

function cells(tr, values) {
  for (const v of values) {
    const td = document.createElement("td");
    if (v instanceof Node) td.appendChild(v); else td.textContent = String(v);
    tr.appendChild(td);
  }
}

function blob(obj) {
  return URL.createObjectURL(new Blob([JSON.stringify(obj, null, 1)], { type: "application/json" }));
}

async function show(h) {
  const b = await getJSON(`/blocks/${h}`);
  selected = h;
  window.explorer.selected = h;
  $("block-title").textContent = `Block ${h}`;
  const kv = $("block");
  kv.innerHTML = "";
  for (const [k, v] of [["time", new Date(b.timestamp_ms).toISOString()], ["producer", b.producer], ["old root", b.old_root],
    ["new root", b.new_root], ["commitment", b.commitment], ["decided hash", b.decided_hash ?? "— (single producer)"]]) {
    const tr = document.createElement("tr"); cells(tr, [k, v]); tr.lastChild.className = "mono"; kv.appendChild(tr);
  }
  const tb = $("transfers").querySelector("tbody");
  tb.innerHTML = "";
  for (const t of b.transfers) {
    const tr = document.createElement("tr");
    cells(tr, [short(t.id), t.from, t.to_key ? `${t.to_index} (new key ${short(t.to_key)})` : t.to_index, t.amount, t.fee, t.nonce]);
    tb.appendChild(tr);
  }
  const rb = $("receipts").querySelector("tbody");
  rb.innerHTML = "";
  for (const r of b.receipts) {
    const tr = document.createElement("tr");
    if (r.status === "rejected") tr.className = "rejected";
    cells(tr, [short(r.id), r.status, r.reason ?? ""]);
    rb.appendChild(tr);
  }
  if (b.proof) {
    const p = await getJSON(`/blocks/${h}/proof`);
    $("proof").textContent = `envelope (${b.proof.length / 2} bytes): ${b.proof}`;
    $("proof-json").href = blob(p.snarkjs.proof);
    $("proof-json").download = `proof-${h}.json`;
    $("public-json").href = blob(p.snarkjs.public);
    $("public-json").download = `public-${h}.json`;
  } else {
    $("proof").textContent = "not proven yet";
  }
}

async function refresh() {
  try {
    const latest = await getJSON("/blocks/latest");
    const top = latest.height;
    const tb = $("blocks").querySelector("tbody");
    for (let h = Math.max(shown + 1, top - 19, 1); h <= top; h++) {
      const b = h === top ? latest : await getJSON(`/blocks/${h}`);
      const tr = document.createElement("tr");
      tr.dataset.height = String(h);
      const a = document.createElement("a");
      a.className = "height";
      a.textContent = String(h);
      a.onclick = () => show(h);
      const rejected = b.receipts.filter((r) => r.status === "rejected").length;
      cells(tr, [a, b.transfers.length, rejected, b.proof ? "proven" : "pending"]);
      tb.insertBefore(tr, tb.firstChild);
      window.explorer.listed.push(h);
      while (tb.children.length > 20) tb.removeChild(tb.lastChild);
    }
    shown = Math.max(shown, top);
    // Rows still "pending": update once their proof arrives.
    for (const tr of tb.children) {
      if (tr.lastChild.textContent === "pending") {
        const b = await getJSON(`/blocks/${tr.dataset.height}`);
        if (b.proof) {
          tr.lastChild.textContent = "proven";
          if (Number(tr.dataset.height) === selected) await show(selected);
        }
      }
    }
    if (selected === null && top > 0) await show(top);
  } catch (e) {
    $("block-title").textContent = `error: ${e.message}`;
  }
}

$("account-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const i = $("account-index").value;
  const kv = $("account");
  kv.innerHTML = "";
  try {
    const a = await getJSON(`/accounts/${i}`);
    const pairs = a.account
      ? [["index", a.index], ["height", a.height], ["balance", a.account.balance], ["nonce", a.account.nonce], ["public key", a.account.pubkey]]
      : [["index", a.index], ["height", a.height], ["account", "empty"]];
    for (const [k, v] of pairs) { const tr = document.createElement("tr"); cells(tr, [k, v]); kv.appendChild(tr); }
  } catch (err) {
    const tr = document.createElement("tr"); cells(tr, ["error", err.message]); kv.appendChild(tr);
  }
});

getJSON("/vk").then((vk) => { $("vk-json").href = blob(vk.snarkjs); }).catch(() => { $("vk-json").textContent = "verification_key.json (proving is off)"; });
refresh();
setInterval(refresh, 2000);
