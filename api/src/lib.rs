//! HTTP API (axum on our own hyper loop, `serve`): blocks, proofs, accounts with Merkle proofs,
//! submission, status, Prometheus metrics and health.
//!
//! The contract is `docs/api/openapi.json` (OpenAPI 3.0, compiled in and served at
//! `/openapi.json`): every route, body and answer, and the status codes. Every error is
//! `{"error": "…"}` (unknown routes 404, wrong methods 405, too large 413, too slow 408).
//! `tests/api.rs` fuzzes a live node against it with schemathesis. Bodies are parsed by hand so
//! that every malformed request gets an error naming the problem and changes nothing.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rustorium_circuits::eddsa::{PublicKey, Signature, SignatureError};
use rustorium_circuits::field::to_decimal;
use rustorium_circuits::transfer::{Recipient, SignedTransfer, Transfer, TransferDecodeError};
use serde_json::{Value, json};

use rustorium_node::Node;
use rustorium_prover::{
    BlockProof, ProofEnvelope, proof_json, public_json, verifying_key_json, vk_hash,
};

pub mod serve;
mod ui;

type Shared = Arc<Node>;

/// Serves the HTTP API for `node` on the tokio runtime, under the node's `[http]` limits; returns
/// the bound address (port 0 picks a free port).
pub async fn serve_http(
    node: Arc<Node>,
    addr: std::net::SocketAddr,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let limits = node.config().http;
    let app = router(node, limits);
    tokio::spawn(serve::serve(listener, app, limits));
    Ok(bound)
}

fn err(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, axum::Json(json!({"error": msg.to_string()}))).into_response()
}

fn ok(v: Value) -> Response {
    axum::Json(v).into_response()
}

/// The API's routes, with the body limit of `limits` and its request timeout (JSON errors).
pub fn router(node: Arc<Node>, limits: serve::HttpLimits) -> Router {
    let timeout = limits.request_timeout;
    let max_body = limits.max_body;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/status", get(status))
        .route("/genesis", get(genesis))
        .route("/blocks/latest", get(latest_block))
        .route("/blocks/{h}", get(block))
        .route("/blocks/{h}/proof", get(block_proof))
        .route("/proven/latest", get(proven_latest))
        .route("/accounts/{index}", get(account))
        .route("/vk", get(vk))
        .route("/keys/proving.key", get(proving_key))
        .route("/tx", post(submit))
        .route("/admin/partition", post(partition))
        .route("/openapi.json", get(openapi))
        .route("/events", get(events))
        .route("/ui", get(ui::root_redirect))
        .route("/ui/", get(ui::index))
        .route("/ui/{file}", get(ui::asset))
        .fallback(|uri: axum::http::Uri| async move {
            err(StatusCode::NOT_FOUND, format!("no route {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            err(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("method {method} not allowed here"),
            )
        })
        .with_state(node)
        .layer(axum::extract::DefaultBodyLimit::max(limits.max_body))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                // A declared length over the limit is refused before a byte of the body is read.
                let declared = req
                    .headers()
                    .get(axum::http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                if declared.is_some_and(|n| n > max_body as u64) {
                    return err(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("body larger than {max_body} bytes"),
                    );
                }
                match tokio::time::timeout(timeout, next.run(req)).await {
                    Ok(response) => response,
                    Err(_) => err(StatusCode::REQUEST_TIMEOUT, "request not completed in time"),
                }
            },
        ))
}

/// The OpenAPI 3 document of this API (docs/api/openapi.json, compiled in).
pub const OPENAPI: &str = include_str!("../../docs/api/openapi.json");

async fn openapi() -> Response {
    ([("content-type", "application/json")], OPENAPI).into_response()
}

async fn readyz(State(n): State<Shared>) -> Response {
    let body = json!({
        "ready": n.is_ready(),
        "store": true,
        "keys": n.proving() || !n.config().prove,
        "backends": n.metrics().backends(),
        "scoring": n.admission().scoring_status,
        "policy": n.admission().policy_script,
    });
    if n.is_ready() {
        ok(body)
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response()
    }
}

async fn metrics(State(n): State<Shared>) -> Response {
    (
        [("content-type", "text/plain; version=0.0.4")],
        n.metrics().render(),
    )
        .into_response()
}

/// Fault injection (validators with `fault_injection = true` only): drop all traffic to and from
/// the listed validators, `{"block": [1, 2]}`; an empty list heals.
async fn partition(
    State(n): State<Shared>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let allowed = n
        .config()
        .consensus
        .as_ref()
        .is_some_and(|c| c.fault_injection);
    let Some(p2p) = n.p2p().filter(|_| allowed) else {
        return err(StatusCode::NOT_FOUND, "fault injection is off");
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return err(e.status(), e.body_text()),
    };
    #[derive(serde::Deserialize)]
    struct Req {
        block: Vec<u16>,
    }
    let Ok(req) = serde_json::from_slice::<Req>(&body) else {
        return err(
            StatusCode::BAD_REQUEST,
            "expected {\"block\": [validator indices]}",
        );
    };
    if let Ok(mut b) = p2p.blocked.lock() {
        *b = req.block.into_iter().collect();
    }
    ok(json!({"ok": true}))
}

async fn status(State(n): State<Shared>) -> Response {
    ok(status_json(&n))
}

/// What `/status` answers (also the `status` part of each `/events` message).
fn status_json(n: &Node) -> Value {
    let m = &n.metrics();
    let head = n.head();
    json!({
        "chain_id": n.genesis().chain_id,
        "depth": n.genesis().depth,
        "capacity": n.config().capacity,
        "committed_height": head.committed,
        "proven_height": head.proven,
        "mempool": n.mempool_len(),
        "store_recovered": n.store_recovered(),
        "proving_queue": m.proving_queue.load(Ordering::Relaxed),
        "vk_hash": n.vk_hash().map(hex::encode),
        "key_provenance": n.key_provenance(),
        "proof_system": n.config().proof_system.name(),
        "devnet": n.genesis().devnet,
        "validator": n.config().consensus.as_ref().map(|c| c.validator),
        "consensus_round": m.consensus_round.load(Ordering::Relaxed),
        "connected_validators": n.p2p().map(|p| p.connected()),
        "decided_hash": n
            .synced_block(head.committed)
            .ok()
            .flatten()
            .map(|(v, _)| hex::encode(v.hash().0)),
        "fleet": n.config().fleet.as_ref().map(|_| json!({
            "queue_depth": m.fleet_queue_depth.load(Ordering::Relaxed),
            "leases": m.fleet_leases.load(Ordering::Relaxed),
            "redelivered": m.fleet_redelivered.load(Ordering::Relaxed),
            "requeued": m.fleet_requeued.load(Ordering::Relaxed),
            "dead_letters": m.fleet_dead_letters.load(Ordering::Relaxed),
            "workers": m.workers().into_iter().map(|(name, w)| json!({
                "name": name,
                "proofs": w.proofs,
                "rejected": w.rejected,
                "mean_latency_s": if w.proofs > 0 { w.latency_sum / w.proofs as f64 } else { 0.0 },
                "last_seen_ms": w.last_seen_ms,
            })).collect::<Vec<_>>(),
        })),
    })
}

/// The Prometheus exposition as a flat JSON object, `"name{labels}": value` (the dashboard's
/// view of `/metrics`; histogram buckets left out).
fn metrics_json(text: &str) -> Value {
    let map: serde_json::Map<String, Value> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.contains("_bucket"))
        .filter_map(|l| {
            let (name, v) = l.rsplit_once(' ')?;
            let v: f64 = v.parse().ok()?;
            Some((name.to_string(), json!(v)))
        })
        .collect();
    Value::Object(map)
}

/// `/events`: server-sent events for the operator dashboard, one `snapshot` event a second with
/// `{"time_ms", "status", "metrics"}` (the same data as `/status` and `/metrics`), so a page
/// follows the node over one connection instead of polling every metric.
async fn events(State(n): State<Shared>) -> Response {
    use axum::response::sse::{Event, KeepAlive, Sse};
    let stream = futures_util::stream::unfold(
        (n, tokio::time::interval(std::time::Duration::from_secs(1))),
        |(n, mut tick)| async move {
            tick.tick().await;
            let time_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let data = json!({
                "time_ms": time_ms,
                "status": status_json(&n),
                "metrics": metrics_json(&n.metrics().render()),
            });
            let event = Event::default().event("snapshot").data(data.to_string());
            Some((Ok::<_, std::convert::Infallible>(event), (n, tick)))
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn genesis(State(n): State<Shared>) -> Response {
    match n.reader().and_then(|r| r.root(0)) {
        Ok(root) => ok(json!({
            "chain_id": n.genesis().chain_id,
            "depth": n.genesis().depth,
            "root": to_decimal(&root),
            "state_hash": hex::encode(n.genesis().state_hash()),
            "accounts": n.genesis().accounts.iter().enumerate().map(|(i, a)| json!({
                "index": i, "pubkey": hex::encode(a.pubkey.pack()), "balance": a.balance,
            })).collect::<Vec<_>>(),
            "verifying_keys": n.genesis().verifying_keys.iter().map(|(c, h)| json!({
                "capacity": c, "hash": hex::encode(h),
            })).collect::<Vec<_>>(),
            "halo2_keys": n.genesis().halo2_keys.iter().map(|(c, h)| json!({
                "capacity": c, "hash": hex::encode(h),
            })).collect::<Vec<_>>(),
        })),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

fn block_json(n: &Node, h: u64) -> Response {
    let b = match n.block(h) {
        Ok(Some(b)) => b,
        Ok(None) => return err(StatusCode::NOT_FOUND, format!("no block {h}")),
        Err(e) => return err(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let proof = n.proof(h).ok().flatten();
    ok(json!({
        "height": b.height,
        "timestamp_ms": b.timestamp_ms,
        "producer": b.producer,
        "old_root": to_decimal(&b.old_root),
        "new_root": to_decimal(&b.new_root),
        "commitment": to_decimal(&b.commitment),
        "transfers": b.applied.iter().map(|(t, to)| json!({
            "id": to_decimal(&t.tx.message()),
            "bytes": hex::encode(t.encode().unwrap_or_default()),
            "from": t.tx.from, "to_index": to, "amount": t.tx.amount, "fee": t.tx.fee, "nonce": t.tx.nonce,
            "to_key": match t.tx.to {
                Recipient::NewKey(k) => Some(hex::encode(k.pack())),
                Recipient::Index(_) => None,
            },
        })).collect::<Vec<_>>(),
        "receipts": b.applied.iter().map(|(t, _)| json!({"id": to_decimal(&t.tx.message()), "status": "applied"}))
            .chain(b.rejected.iter().map(|(t, r)| json!({"id": to_decimal(&t.tx.message()), "status": "rejected", "reason": r})))
            .collect::<Vec<_>>(),
        "proof": proof.map(hex::encode),
        "decided_hash": n.synced_block(h).ok().flatten().map(|(v, _)| hex::encode(v.hash().0)),
    }))
}

async fn latest_block(State(n): State<Shared>) -> Response {
    let h = n.head().committed;
    block_json(&n, h)
}

async fn block(State(n): State<Shared>, Path(h): Path<String>) -> Response {
    match h.parse::<u64>() {
        Ok(h) => block_json(&n, h),
        Err(_) => err(
            StatusCode::BAD_REQUEST,
            format!("height {h:?} is not a number"),
        ),
    }
}

async fn block_proof(State(n): State<Shared>, Path(h): Path<String>) -> Response {
    let Ok(h) = h.parse::<u64>() else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("height {h:?} is not a number"),
        );
    };
    match n.proof(h) {
        Ok(Some(bytes)) => match ProofEnvelope::decode(&bytes) {
            Ok(mut env) => {
                let tamper = n.config().http.fault_tamper_proof_at == Some(h);
                match &mut env.proof {
                    BlockProof::Groth16(p) => {
                        if tamper {
                            // Test-only fault injection: valid points, wrong proof.
                            p.c = p.a;
                        }
                        ok(json!({
                            "height": h,
                            "system": "groth16",
                            "envelope": hex::encode(&bytes),
                            "snarkjs": {"proof": proof_json(p), "public": public_json(&env.public_inputs())},
                        }))
                    }
                    // No snarkjs form: a halo2 proof is checked by `rustorium light`.
                    BlockProof::Halo2(_) => ok(json!({
                        "height": h,
                        "system": "halo2",
                        "envelope": hex::encode(&bytes),
                    })),
                }
            }
            Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
        },
        Ok(None) => err(StatusCode::NOT_FOUND, format!("block {h} is not proven")),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn proven_latest(State(n): State<Shared>) -> Response {
    let h = n.head().proven;
    match n.reader().and_then(|r| r.root(h)) {
        Ok(root) => ok(json!({"height": h, "root": to_decimal(&root)})),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

async fn account(
    State(n): State<Shared>,
    Path(index): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Ok(index) = index.parse::<u64>() else {
        return err(
            StatusCode::BAD_REQUEST,
            format!("index {index:?} is not a number"),
        );
    };
    let reader = match n.reader() {
        Ok(r) => r,
        Err(e) => return err(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let height = match q.get("height") {
        Some(h) => match h.parse::<u64>() {
            Ok(h) => h,
            Err(_) => {
                return err(
                    StatusCode::BAD_REQUEST,
                    format!("height {h:?} is not a number"),
                );
            }
        },
        None => reader.latest_version().ok().flatten().unwrap_or(0),
    };
    let root = match reader.root(height) {
        Ok(r) => r,
        Err(
            e @ (rustorium_state::StoreError::UnknownVersion(_)
            | rustorium_state::StoreError::VersionPruned { .. }),
        ) => return err(StatusCode::NOT_FOUND, e),
        Err(e) => return err(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let proof = match reader.proof(index, height) {
        Ok(p) => p,
        Err(e @ rustorium_state::StoreError::Merkle(_)) => return err(StatusCode::BAD_REQUEST, e),
        Err(e) => return err(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    ok(json!({
        "index": index,
        "height": height,
        "root": to_decimal(&root),
        "account": proof.account.map(|a| json!({"pubkey": hex::encode(a.pubkey.pack()), "balance": a.balance, "nonce": a.nonce})),
        "proof": hex::encode(proof.encode()),
    }))
}

async fn vk(State(n): State<Shared>) -> Response {
    if let Some(h2) = n.halo2() {
        // Transparent: no key file; a light client derives the key from the shape and checks
        // its hash against the one its genesis pins.
        let v = h2.verifier();
        return ok(json!({
            "system": "halo2",
            "vk_hash": hex::encode(v.vk_hash()),
            "depth": v.shape().depth,
            "capacity": v.shape().capacity,
            "k": v.k(),
        }));
    }
    let Some(keys) = n.keys() else {
        return err(StatusCode::NOT_FOUND, "proving is off");
    };
    // From the key in memory: the file on disk was checked at start but may change since.
    match rustorium_prover::verifying_key_file(keys) {
        Ok(bytes) => ok(
            json!({"file": hex::encode(bytes), "vk_hash": hex::encode(vk_hash(&keys.pk.vk)), "snarkjs": verifying_key_json(&keys.pk.vk)}),
        ),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The proving-key file for fleet workers (`rustorium prover --keys-from`), which pin it by the
/// verifying-key hash in the `x-rustorium-vk-hash` header (and their own `--vk-hash`).
async fn proving_key(State(n): State<Shared>) -> Response {
    let Some(keys) = n.keys() else {
        return err(
            StatusCode::NOT_FOUND,
            if n.halo2().is_some() {
                "this node proves with halo2: there is no key file (the keys derive from the shape)"
            } else {
                "proving is off"
            },
        );
    };
    let hash = hex::encode(vk_hash(&keys.pk.vk));
    let node = n.clone();
    let file = tokio::task::spawn_blocking(move || node.proving_key_file()).await;
    match file {
        Ok(Some(Ok(bytes))) => (
            [
                ("content-type", "application/octet-stream".to_string()),
                ("x-rustorium-vk-hash", hash),
            ],
            bytes.as_ref().clone(),
        )
            .into_response(),
        Ok(Some(Err(e))) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
        Ok(None) => err(StatusCode::NOT_FOUND, "proving is off"),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Why a JSON transfer does not parse (the client sees the message with status 400).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransferJsonError {
    /// The body is not JSON.
    #[error("body is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    /// A field is missing, of the wrong type or not hex.
    #[error("{field}: {problem}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// Both or neither of `to_index` and `to_key`.
    #[error("give exactly one of to_index and to_key")]
    Recipient,
    /// The encoded transfer (the `transfer` form) does not decode.
    #[error(transparent)]
    Decode(#[from] TransferDecodeError),
    /// A key or signature is not a valid point encoding.
    #[error("{field}: {source}")]
    Point {
        /// The field.
        field: &'static str,
        /// Why.
        source: SignatureError,
    },
}

fn field_err(field: &'static str, problem: impl std::fmt::Display) -> TransferJsonError {
    TransferJsonError::Field {
        field,
        problem: problem.to_string(),
    }
}

/// Parses a JSON transfer (either form) into a signed transfer.
pub fn parse_transfer_json(body: &[u8]) -> Result<SignedTransfer, TransferJsonError> {
    let v: Value = serde_json::from_slice(body)?;
    if let Some(h) = v.get("transfer") {
        let text = h
            .as_str()
            .ok_or_else(|| field_err("transfer", "must be a hex string"))?;
        let bytes = hex::decode(text).map_err(|e| field_err("transfer", e))?;
        return Ok(SignedTransfer::decode(&bytes)?);
    }
    let u = |k: &'static str| {
        v.get(k)
            .and_then(Value::as_u64)
            .ok_or_else(|| field_err(k, "missing or not an integer"))
    };
    let to = match (v.get("to_index"), v.get("to_key")) {
        (Some(_), None) => Recipient::Index(u("to_index")?),
        (None, Some(k)) => {
            let text = k
                .as_str()
                .ok_or_else(|| field_err("to_key", "must be a hex string"))?;
            let bytes = hex::decode(text).map_err(|e| field_err("to_key", e))?;
            Recipient::NewKey(PublicKey::unpack(&bytes).map_err(|source| {
                TransferJsonError::Point {
                    field: "to_key",
                    source,
                }
            })?)
        }
        _ => return Err(TransferJsonError::Recipient),
    };
    let sig_hex = v
        .get("signature")
        .and_then(Value::as_str)
        .ok_or_else(|| field_err("signature", "missing (128 hex)"))?;
    let sig_bytes = hex::decode(sig_hex).map_err(|e| field_err("signature", e))?;
    let sig = Signature::unpack(&sig_bytes).map_err(|source| TransferJsonError::Point {
        field: "signature",
        source,
    })?;
    Ok(SignedTransfer {
        tx: Transfer {
            chain_id: u("chain_id")?,
            from: u("from")?,
            to,
            amount: u("amount")?,
            fee: u("fee")?,
            nonce: u("nonce")?,
        },
        sig,
    })
}

async fn submit(
    State(n): State<Shared>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // Over the body limit (checked before buffering) or a broken body: a JSON error like any other.
    let body = match body {
        Ok(b) => b,
        Err(e) => return err(e.status(), e.body_text()),
    };
    let tx = match parse_transfer_json(&body) {
        Ok(t) => t,
        Err(e) => {
            n.metrics().reject("malformed");
            return err(StatusCode::BAD_REQUEST, e);
        }
    };
    let id = to_decimal(&tx.tx.message());
    let node = n.clone();
    match tokio::task::spawn_blocking(move || node.submit(tx)).await {
        Ok(Ok(())) => ok(json!({"accepted": true, "id": id})),
        Ok(Err(e)) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"accepted": false, "id": id, "reason": e.to_string()})),
        )
            .into_response(),
        Err(e) => err(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}
