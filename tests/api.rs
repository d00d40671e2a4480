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
    common::small_genesis(dir, 5);
    let config = dir.join("node.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\ngenesis = \"genesis.toml\"\nproducer = 3\nquic_listen = \"127.0.0.1:0\"\nhttp_listen = \"127.0.0.1:0\"\nprove = false\nkeys_dir = \"keys\"\n[http]\nmax_connections = 64\nmax_connections_per_ip = 8\nidle_timeout = 2\nheader_timeout = 1\nrequest_timeout = 2\nmax_body = 16384\n",
    )
    .expect("write");
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
    common::small_genesis(dir.path(), 5);
    let config = dir.path().join("node.toml");
    std::fs::write(
        &config,
        "data_dir = \"data\"\ngenesis = \"genesis.toml\"\nproducer = 3\nquic_listen = \"127.0.0.1:0\"\nhttp_listen = \"127.0.0.1:0\"\nkeys_dir = \"keys\"\ncapacity = 2\nblock_interval_ms = 50\n",
    )
    .expect("write");
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
            rustorium_circuits::transfer::Transfer {
                chain_id: 1337,
                from,
                to: rustorium_circuits::transfer::Recipient::Index(4),
                amount: 5,
                fee: 1,
                nonce: 0,
            }
            .sign(&rustorium::state::dev_secret(from))
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
        .args(["run", &format!("http://{http}/openapi.json")])
        // Every check, except that schema-valid transfers be accepted: a random signature never
        // verifies, and refusing it is right.
        .args([
            "--checks",
            "all",
            "--exclude-checks",
            "positive_data_acceptance",
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
