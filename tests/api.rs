//! The HTTP API of a real node process under hostile clients: oversized bodies are refused before
//! they are buffered, with a JSON 413; half-sent requests and idle connections are closed; one
//! address cannot take every connection; slow bodies time out.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::io::AsRawFd;
use std::time::{Duration, Instant};

use common::{get, start_node};

/// A node with small HTTP limits (seconds) so that the timeouts show within a test.
fn node(dir: &std::path::Path) -> (std::process::Child, SocketAddr) {
    let config = common::node_config(
        dir,
        "prove = false\nkeys_dir = \"keys\"\n[http]\nmax_connections = 64\nmax_connections_per_ip = 8\nidle_timeout = 2\nheader_timeout = 1\nrequest_timeout = 2\nmax_body = 16384\n",
    );
    let (child, _, http) = start_node(&config);
    (child, http)
}

/// Reads until the server closes the connection or `limit` passes; returns what was read and
/// whether the server closed it.
fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&out).into(), true),
        }
    }
    (String::from_utf8_lossy(&out).into(), false)
}

/// A connection from `127.0.0.2` (another address on loopback).
fn connect_from_other_address(http: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket
        .bind(&"127.0.0.2:0".parse::<SocketAddr>().expect("addr").into())
        .expect("bind 127.0.0.2");
    socket.connect(&http.into()).expect("connect");
    let s: TcpStream = socket.into();
    assert!(s.as_raw_fd() > 0);
    s
}

#[test]
fn the_http_server_survives_hostile_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut child, http) = node(dir.path());

    // A 3 MiB body is refused from its Content-Length, before it is sent, with a JSON 413.
    let mut s = TcpStream::connect(http).expect("connect");
    write!(
        s,
        "POST /tx HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        3 << 20
    )
    .expect("headers");
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("{\"error\":"), "not a JSON error: {answer}");
    // The same without a Content-Length (chunked): refused while streaming.
    let mut s = TcpStream::connect(http).expect("connect");
    write!(
        s,
        "POST /tx HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .expect("headers");
    let chunk = vec![b'a'; 32 * 1024];
    let _ = write!(s, "{:x}\r\n", chunk.len());
    let _ = s.write_all(&chunk);
    let _ = s.write_all(b"\r\n");
    let (answer, _) = read_until_closed(&mut s, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    // A half-sent request is closed after the header timeout (1 s), not held.
    let mut s = TcpStream::connect(http).expect("connect");
    s.write_all(b"GET /status HTTP/1.1\r\nHost: x\r\n")
        .expect("half a request");
    let start = Instant::now();
    let (_, closed) = read_until_closed(&mut s, Duration::from_secs(6));
    assert!(closed, "a half-sent request was held open");
    assert!(start.elapsed() < Duration::from_secs(5));

    // An idle keep-alive connection is closed (the header timeout covers the wait for the next
    // request; the idle timeout, 2 s, any other silence).
    let mut s = TcpStream::connect(http).expect("connect");
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("request");
    let start = Instant::now();
    let (answer, closed) = read_until_closed(&mut s, Duration::from_secs(8));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "an idle connection was held open");
    assert!(start.elapsed() < Duration::from_secs(4));

    // A slow body times out (request timeout 2 s) instead of holding the handler.
    let mut s = TcpStream::connect(http).expect("connect");
    s.write_all(b"POST /tx HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        .expect("start");
    let start = Instant::now();
    let mut answer = String::new();
    while start.elapsed() < Duration::from_secs(6) && answer.is_empty() {
        let _ = s.write_all(b" ");
        let (a, closed) = read_until_closed(&mut s, Duration::from_millis(500));
        answer = a;
        if closed {
            break;
        }
    }
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "a slow body was held"
    );

    // One address opening many connections gets at most 8; another address is still served.
    let mut hogs: Vec<TcpStream> = (0..40).map(|_| connect_from_other_address(http)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let open = hogs
        .iter_mut()
        .map(|s| !read_until_closed(s, Duration::from_millis(250)).1)
        .filter(|open| *open)
        .count();
    assert!(open <= 8, "{open} connections from one address were kept");
    let start = Instant::now();
    let status = get(http, "/status");
    assert!(status["committed_height"].is_u64(), "{status}");
    assert!(start.elapsed() < Duration::from_secs(2));
    drop(hogs);
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

/// schemathesis (the project venv's, from scripts/requirements.txt) fuzzes a live node against
/// docs/api/openapi.json, the document the node serves at `/openapi.json`: every answer must
/// conform to the schema (status code, content type, body) and nothing may answer 5xx. The node
/// has committed and proven blocks, so block, proof and account routes reach their real logic.
#[test]
fn the_api_conforms_to_its_openapi_document_under_fuzzing() {
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/schemathesis");
    assert!(
        std::path::Path::new(venv).exists(),
        "schemathesis missing from .venv: run scripts/test.sh (it installs scripts/requirements.txt)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::node_config(
        dir.path(),
        "keys_dir = \"keys\"\ncapacity = 2\nblock_interval_ms = 50\n",
    );
    let (mut child, quic, http) = start_node(&config);
    // The served document is the one in the repository.
    let served = get(http, "/openapi.json");
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/api/openapi.json"
        ))
        .expect("read"),
    )
    .expect("json");
    assert_eq!(served, file);
    // A few proven blocks.
    let cert = rustls::pki_types::CertificateDer::from(
        std::fs::read(dir.path().join("data/tls/cert.der")).expect("cert"),
    );
    let txs: Vec<_> = (0..3u64)
        .map(|from| {
            common::dev_transfer(
                from,
                rustorium_circuits::transfer::Recipient::Index(4),
                5,
                1,
                0,
            )
        })
        .collect();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let c = rustorium::net::quic::Client::connect(quic, cert)
            .await
            .expect("connect");
        let r = c.submit(&txs).await.expect("submit");
        assert!(r.iter().all(|r| r.accepted), "{r:?}");
        c.close().await;
    });
    common::wait("proven blocks", 120, || {
        get(http, "/status")["proven_height"].as_u64() >= Some(2)
    });
    let out = std::process::Command::new(venv)
        // schemathesis keeps a cache in its working directory: not in the repository.
        .current_dir(dir.path())
        .args(["run", &format!("http://{http}/openapi.json")])
        // Every check, except that schema-valid transfers be accepted: a random signature never
        // verifies, and refusing it is right.
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
            // A server-sent-event stream never ends: tests/ui.rs reads it instead.
            "--exclude-path",
            "/events",
            "--max-time",
            "45",
            "--workers",
            "2",
        ])
        .env("SCHEMATHESIS_HOOKS", "")
        .output()
        .expect("schemathesis runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found failures:\n{text}");
    assert!(text.contains("passed"), "{text}");
    child.kill().expect("kill");
    child.wait().expect("reaped");
}

/// Serves fixed JSON answers by path (a lying node: the test edits them); 404 otherwise.
fn lying_server(
    answers: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let body = answers.lock().expect("lock").get(&path).cloned();
            let (status, body) = match body {
                Some(b) => ("200 OK", b),
                None => ("404 Not Found", "{\"error\":\"no\"}".to_string()),
            };
            let _ = write!(
                s,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    addr
}

/// `rustorium light sync` against a lying server (a copy of a real node's answers, then edited):
/// every lie is refused with its reason, the honest copy verifies.
#[test]
fn light_sync_refuses_a_lying_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::node_config(
        dir.path(),
        "keys_dir = \"keys\"\ncapacity = 2\nblock_interval_ms = 50\n",
    );
    let genesis = dir.path().join("genesis.toml");
    let (mut child, quic, http) = start_node(&config);
    let cert = rustls::pki_types::CertificateDer::from(
        std::fs::read(dir.path().join("data/tls/cert.der")).expect("cert"),
    );
    let tx = |from: u64, nonce: u64| {
        common::dev_transfer(
            from,
            rustorium_circuits::transfer::Recipient::Index(4),
            5,
            1,
            nonce,
        )
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    for batch in [vec![tx(0, 0), tx(1, 0)], vec![tx(2, 0)]] {
        let want = get(http, "/status")["committed_height"]
            .as_u64()
            .expect("h")
            + 1;
        rt.block_on(async {
            let c = rustorium::net::quic::Client::connect(quic, cert.clone())
                .await
                .expect("connect");
            let r = c.submit(&batch).await.expect("submit");
            assert!(r.iter().all(|r| r.accepted), "{r:?}");
            c.close().await;
        });
        common::wait("a block", 60, || {
            get(http, "/status")["committed_height"].as_u64() >= Some(want)
        });
    }
    common::wait("proofs", 120, || {
        let s = get(http, "/status");
        s["proven_height"] == s["committed_height"]
    });
    let head = get(http, "/status")["proven_height"].as_u64().expect("h");
    assert!(head >= 2);
    let status = get(http, "/status");
    let vk_hash = status["vk_hash"].as_str().expect("hash").to_string();
    // The devnet's generated key says where it comes from.
    assert_eq!(status["key_provenance"], "devnet-seed");
    assert_eq!(status["devnet"], true);
    // Copy the honest answers.
    let mut honest = std::collections::HashMap::new();
    let mut paths = vec![
        "/genesis".to_string(),
        "/vk".to_string(),
        "/proven/latest".to_string(),
    ];
    for h in 1..=head {
        paths.push(format!("/blocks/{h}"));
    }
    for p in paths {
        honest.insert(p.clone(), get(http, &p).to_string());
    }
    child.kill().expect("kill");
    child.wait().expect("reaped");
    let answers = std::sync::Arc::new(std::sync::Mutex::new(honest.clone()));
    let server = lying_server(answers.clone());
    let sync = |genesis: &std::path::Path, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustorium"))
            .args(["light", "sync", "--node", &format!("http://{server}")])
            .arg("--genesis")
            .arg(genesis)
            .args(extra)
            .output()
            .expect("light sync");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let pinned = ["--vk-hash", vk_hash.as_str()];
    let (ok, text) = sync(&genesis, &pinned);
    assert!(ok, "the honest copy: {text}");
    assert!(
        text.contains(&format!("verified head: height {head}")),
        "{text}"
    );
    // Without a pin (the test genesis pins none) the client refuses to trust the server's key.
    let (ok, text) = sync(&genesis, &[]);
    assert!(!ok && text.contains("pins no verifying key"), "{text}");

    let edit = |path: &str, f: &dyn Fn(&mut serde_json::Value)| {
        let mut v: serde_json::Value = serde_json::from_str(&honest[path]).expect("json");
        f(&mut v);
        let mut a = answers.lock().expect("lock");
        *a = honest.clone();
        a.insert(path.to_string(), v.to_string());
    };
    // The server's own key (another trapdoor), served as /vk.
    let other = rustorium::prover::dev_setup(
        rustorium_circuits::block::CircuitShape {
            depth: 5,
            capacity: 2,
        },
        77,
    )
    .expect("setup");
    let other_file = rustorium::prover::verifying_key_file(&other).expect("file");
    edit("/vk", &|v| {
        v["file"] = serde_json::Value::String(hex_encode(&other_file));
    });
    let (ok, text) = sync(&genesis, &pinned);
    assert!(!ok && text.contains("is not the pinned"), "{text}");
    // A transfer dropped from a block.
    edit("/blocks/1", &|v| {
        v["transfers"].as_array_mut().expect("transfers").pop();
    });
    let (ok, text) = sync(&genesis, &pinned);
    assert!(
        !ok && text.contains("do not match the proven commitment"),
        "{text}"
    );
    // Another recipient index for a transfer.
    edit("/blocks/2", &|v| {
        v["transfers"][0]["to_index"] = serde_json::json!(1);
    });
    let (ok, text) = sync(&genesis, &pinned);
    assert!(
        !ok && text.contains("do not match the proven commitment"),
        "{text}"
    );
    // Padding: one more "proven" height whose block has no transfers, reusing the last proof
    // with the height changed.
    {
        let mut a = answers.lock().expect("lock");
        *a = honest.clone();
        let next = head + 1;
        a.insert(
            "/proven/latest".into(),
            serde_json::json!({"height": next, "root": "0"}).to_string(),
        );
        let mut block: serde_json::Value =
            serde_json::from_str(&honest[&format!("/blocks/{head}")]).expect("json");
        block["height"] = serde_json::json!(next);
        block["transfers"] = serde_json::json!([]);
        let mut env = hex_decode(block["proof"].as_str().expect("env"));
        env[1..9].copy_from_slice(&next.to_le_bytes());
        // old root := new root (a no-op block)
        let new_root: Vec<u8> = env[54..86].to_vec();
        env[22..54].copy_from_slice(&new_root);
        block["proof"] = serde_json::Value::String(hex_encode(&env));
        a.insert(format!("/blocks/{next}"), block.to_string());
    }
    let (ok, text) = sync(&genesis, &pinned);
    assert!(!ok && text.contains("has no transfers"), "{text}");
    // Another chain with the same accounts (the same genesis root) and the same key: refused,
    // the proofs are bound to chain 1337.
    *answers.lock().expect("lock") = honest.clone();
    let other_chain = dir.path().join("other-chain.toml");
    std::fs::write(
        &other_chain,
        std::fs::read_to_string(&genesis)
            .expect("genesis")
            .replace("chain_id = 1337", "chain_id = 1338"),
    )
    .expect("write");
    let (ok, text) = sync(&other_chain, &pinned);
    assert!(
        !ok && text.contains("is for chain 1337, expected 1338"),
        "{text}"
    );
}

fn hex_encode(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
