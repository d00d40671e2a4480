// The operator dashboard (docs/ui.md): follows /events (server-sent events, one snapshot a
// second) and charts rates computed from consecutive snapshots. No polling.
"use strict";

const $ = (id) => document.getElementById(id);
const KEEP = 180; // points per chart: three minutes
const series = { proof: [], tps: [], pps: [], lag: [] };
let prev = null;
window.dashboard = { snapshots: 0, committed: [], last: null };

function metric(m, name) {
  return m[name] ?? 0;
}
function labelled(m, prefix) {
  // "name{a="x",b="y"}" -> [{labels: {a: "x", b: "y"}, value}]
  return Object.entries(m)
    .filter(([k]) => k.startsWith(`${prefix}{`))
    .map(([k, value]) => {
      const labels = {};
      for (const part of k.slice(prefix.length + 1, -1).split(",")) {
        const [lk, lv] = part.split("=");
        if (lk) labels[lk] = (lv ?? "").replace(/^"|"$/g, "");
      }
      return { labels, value };
    });
}

function push(name, v) {
  series[name].push(v);
  if (series[name].length > KEEP) series[name].shift();
}

function draw(id, values, fmt = (v) => v.toFixed(2)) {
  const svg = $(id);
  const w = svg.clientWidth || 400, h = svg.clientHeight || 120;
  const max = Math.max(1e-9, ...values);
  const span = Math.max(values.length, 30) - 1; // fill the width once there are 30 points
  const pts = values.map((v, i) => `${(i / span) * w},${h - 14 - (v / max) * (h - 24)}`).join(" ");
  const last = values.length ? values[values.length - 1] : 0;
  svg.innerHTML = `<polyline points="${pts}"></polyline><text x="4" y="12">max ${fmt(max)}</text><text x="${w - 4}" y="${h - 2}" text-anchor="end">now ${fmt(last)}</text>`;
}

function rows(id, pairs) {
  $(id).innerHTML = "";
  for (const [k, v] of pairs) {
    const tr = document.createElement("tr");
    const a = document.createElement("td"); a.textContent = k;
    const b = document.createElement("td"); b.textContent = String(v);
    tr.append(a, b);
    $(id).appendChild(tr);
  }
}

function render(snap) {
  const s = snap.status, m = snap.metrics;
  window.dashboard.snapshots += 1;
  window.dashboard.committed.push(s.committed_height);
  window.dashboard.last = snap;
  $("committed").textContent = s.committed_height;
  $("proven").textContent = s.proven_height;
  $("lag").textContent = s.committed_height - s.proven_height;
  $("queue").textContent = s.proving_queue;
  $("mempool").textContent = s.mempool;
  $("fallbacks").textContent = metric(m, "rustorium_gpu_fallbacks_total");

  if (prev) {
    const dt = (snap.time_ms - prev.time_ms) / 1000 || 1;
    const pm = prev.metrics;
    const dCount = metric(m, "rustorium_proof_seconds_count") - metric(pm, "rustorium_proof_seconds_count");
    const dSum = metric(m, "rustorium_proof_seconds_sum") - metric(pm, "rustorium_proof_seconds_sum");
    push("proof", dCount > 0 ? dSum / dCount : (series.proof.at(-1) ?? 0));
    push("tps", (metric(m, "rustorium_tx_applied_total") - metric(pm, "rustorium_tx_applied_total")) / dt);
    push("pps", (metric(m, "rustorium_proofs_total") - metric(pm, "rustorium_proofs_total")) / dt);
  }
  push("lag", s.committed_height - s.proven_height);
  draw("chart-proof", series.proof);
  draw("chart-tps", series.tps, (v) => v.toFixed(1));
  draw("chart-pps", series.pps);
  draw("chart-lag", series.lag, (v) => v.toFixed(0));
  prev = snap;

  rows("backends", labelled(m, "rustorium_backend").map(({ labels, value }) =>
    [Object.entries(labels).filter(([k]) => k !== "backend").map(([, v]) => v).join(" ") || "backend", `${labels.backend ?? "?"}${value ? "" : " (off)"}`]));
  rows("admission", [
    ["scoring", metric(m, "rustorium_scoring_enabled") ? "on" : "off"],
    ["scoring fallbacks", metric(m, "rustorium_scoring_fallbacks_total")],
    ...labelled(m, "rustorium_admission_decisions_total").map(({ labels, value }) => [`decision ${Object.values(labels).join(" ")}`, value]),
    ["accepted", metric(m, "rustorium_tx_accepted_total")],
    ...labelled(m, "rustorium_tx_rejected_total").map(({ labels, value }) => [`rejected: ${labels.reason ?? "?"}`, value]),
  ]);
  rows("node", [
    ["chain id", s.chain_id], ["depth × capacity", `${s.depth} × ${s.capacity}`],
    ["key", s.key_provenance ?? "proving off"], ["vk hash", s.vk_hash ?? "—"],
    ["devnet", s.devnet], ["proofs", metric(m, "rustorium_proofs_total")],
    ["proof failures", metric(m, "rustorium_proof_failures_total")],
  ]);
  rows("validators", s.validator === null || s.validator === undefined
    ? [["mode", "single producer"]]
    : [["this validator", s.validator], ["consensus round", s.consensus_round], ["connected validators", s.connected_validators],
       ["equivocations", metric(m, "rustorium_equivocations_total")]]);
  const fleet = $("fleet");
  if (!s.fleet) {
    fleet.innerHTML = "<tr><td class='muted'>no fleet configured: the node proves in its own process</td></tr>";
  } else {
    fleet.innerHTML = "<tr><th>worker</th><th>proofs</th><th>refused</th><th>mean s</th><th>last seen</th></tr>";
    for (const w of s.fleet.workers) {
      const tr = document.createElement("tr");
      for (const v of [w.name, w.proofs, w.rejected, w.mean_latency_s.toFixed(2), new Date(w.last_seen_ms).toLocaleTimeString()]) {
        const td = document.createElement("td"); td.textContent = String(v); tr.appendChild(td);
      }
      fleet.appendChild(tr);
    }
  }
}

const source = new EventSource("/events");
source.addEventListener("snapshot", (e) => {
  $("conn").textContent = "live";
  render(JSON.parse(e.data));
});
source.onerror = () => { $("conn").textContent = "disconnected: reconnecting…"; };
