//! Transport failures against real sockets on 127.0.0.1 read as plain words: what failed, where,
//! and the reason a user can act on; never the HTTP stack's internals.

use std::time::Duration;

use jwks_verify_core::fetch::{Fetcher, HttpOptions};
use jwks_verify_core::http_cache::Validators;
use jwks_verify_core::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server that reads a request, writes `answer` (maybe nothing) and closes.
async fn answering(answer: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                let _ = socket.write_all(answer).await;
            });
        }
    });
    port
}

/// A port nothing listens on: bound, then released.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

#[tokio::test]
async fn transport_failures_say_what_happened() {
    let fetcher = Fetcher::new(HttpOptions {
        timeout: Duration::from_secs(30),
        ..HttpOptions::default()
    })
    .expect("client");
    let refused = closed_port().await;
    let plain = answering(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
    let short = answering(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"keys\"").await;
    let silent = answering(b"").await;
    let cases = [
        (
            format!("http://127.0.0.1:{refused}/jwks"),
            format!("could not connect to 127.0.0.1:{refused} (connection refused)"),
        ),
        (
            format!("https://127.0.0.1:{plain}/jwks"),
            format!("TLS handshake with 127.0.0.1:{plain} failed: the server did not answer in TLS (is it a plain http:// endpoint?)"),
        ),
        (
            format!("http://127.0.0.1:{short}/jwks"),
            format!("127.0.0.1:{short} closed the connection before the response was complete"),
        ),
        (
            format!("http://127.0.0.1:{silent}/jwks"),
            format!("127.0.0.1:{silent} closed the connection before the response was complete"),
        ),
    ];
    for (url, want) in cases {
        let err = fetcher
            .get(&url, &Validators::default(), "JWKS")
            .await
            .expect_err(&url);
        assert_eq!(err.code, ErrorCode::FetchFailed, "{url}");
        assert_eq!(err.message, format!("JWKS request to {url}: {want}"));
    }
}
