//! The node's web pages under `/ui` (docs/ui.md): our own files from `ui/static/` and the
//! third-party bundles `api/build.rs` embedded from `ui/dist/`, all compiled in, so the pages
//! work offline and from any directory.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

/// `(name, content type, bytes)` of every file served under `/ui/`.
const FILES: [(&str, &str, &[u8]); 10] = [
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../ui/static/index.html"),
    ),
    (
        "light.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/static/light.js"),
    ),
    (
        "verify-worker.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/static/verify-worker.js"),
    ),
    (
        "explorer.html",
        "text/html; charset=utf-8",
        include_bytes!("../../ui/static/explorer.html"),
    ),
    (
        "explorer.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/static/explorer.js"),
    ),
    (
        "dashboard.html",
        "text/html; charset=utf-8",
        include_bytes!("../../ui/static/dashboard.html"),
    ),
    (
        "dashboard.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../ui/static/dashboard.js"),
    ),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../ui/static/style.css"),
    ),
    (
        "circomlib.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/circomlib.js")),
    ),
    (
        "snarkjs.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!(concat!(env!("OUT_DIR"), "/snarkjs.min.js")),
    ),
];

fn file(name: &str) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => (
            [
                (header::CONTENT_TYPE, *kind),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            *bytes,
        )
            .into_response(),
        None => super::err(StatusCode::NOT_FOUND, format!("no page /ui/{name}")),
    }
}

/// `/ui` → `/ui/`.
pub(crate) async fn root_redirect() -> Redirect {
    Redirect::permanent("/ui/")
}

/// `/ui/`: the light client.
pub(crate) async fn index() -> Response {
    file("index.html")
}

/// `/ui/{file}`.
pub(crate) async fn asset(Path(name): Path<String>) -> Response {
    file(&name)
}
