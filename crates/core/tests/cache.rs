//! The key cache against a real HTTP server on 127.0.0.1 (no Node): single flight, backoff,
//! Retry-After, conditional requests, bad bodies. One test function runs the scenarios in
//! order, on one manual clock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use jwks_verify_core::clock::Clock;
use jwks_verify_core::fetch::{Fetcher, HttpOptions};
use jwks_verify_core::key_cache::{CachePolicy, KeyCache, Usable};
use jwks_verify_core::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

/// What the server answers: status line, extra headers, body, delay.
#[derive(Clone)]
struct Answer {
    status: &'static str,
    headers: Vec<String>,
    body: String,
    delay: Duration,
}

fn ok(body: &str) -> Answer {
    Answer {
        status: "200 OK",
        headers: vec![],
        body: body.to_owned(),
        delay: Duration::ZERO,
    }
}

struct Server {
    url: String,
    count: Arc<AtomicUsize>,
    answer: Arc<Mutex<Answer>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn set(&self, answer: Answer) {
        *self.answer.lock().expect("lock") = answer;
    }
    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

async fn serve(answer: Answer) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/jwks.json", listener.local_addr().expect("addr"));
    let server = Server {
        url,
        count: Arc::default(),
        answer: Arc::new(Mutex::new(answer)),
        requests: Arc::default(),
    };
    let (count, answer, requests) = (
        server.count.clone(),
        server.answer.clone(),
        server.requests.clone(),
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let (count, answer, requests) = (count.clone(), answer.clone(), requests.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let n = socket.read(&mut buf).await.unwrap_or(0);
                requests
                    .lock()
                    .expect("lock")
                    .push(String::from_utf8_lossy(&buf[..n]).into_owned());
                count.fetch_add(1, Ordering::SeqCst);
                let a = answer.lock().expect("lock").clone();
                tokio::time::sleep(a.delay).await;
                let mut head = format!(
                    "HTTP/1.1 {}\r\ncontent-length: {}\r\nconnection: close\r\n",
                    a.status,
                    a.body.len()
                );
                for h in &a.headers {
                    head.push_str(h);
                    head.push_str("\r\n");
                }
                head.push_str("\r\n");
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(a.body.as_bytes()).await;
            });
        }
    });
    server
}

/// The clock of every cache here, moved by the scenarios.
fn clock() -> &'static Clock {
    static CLOCK: OnceLock<Clock> = OnceLock::new();
    CLOCK.get_or_init(Clock::manual)
}

fn cache(url: &str) -> Arc<KeyCache> {
    let policy = CachePolicy {
        max_age_ms: 600_000,
        cooldown_ms: 30_000,
        max_stale_ms: 86_400_000,
    };
    KeyCache::new(
        url.to_owned(),
        Fetcher::new(HttpOptions::default()).expect("client"),
        policy,
        clock().clone(),
        None,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_cache_rules() {
    single_flight().await;
    backoff_then_fail_fast().await;
    retry_after_is_obeyed().await;
    conditional_refresh().await;
    bad_body_keeps_good_keys().await;
}

async fn single_flight() {
    let server = serve(Answer {
        delay: Duration::from_millis(100),
        ..ok(JWKS)
    })
    .await;
    let cache = cache(&server.url);
    let loads = (0..100).map(|_| {
        let cache = cache.clone();
        async move { cache.load().await }
    });
    let results = futures_util::future::join_all(loads).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|k| k.kids() == ["k1"])),
        "all loads got the keys"
    );
    assert_eq!(server.count(), 1, "100 concurrent loads: one request");
}

async fn backoff_then_fail_fast() {
    let server = serve(Answer {
        status: "500 Internal Server Error",
        ..ok("oops")
    })
    .await;
    let cache = cache(&server.url);
    let err = cache.load().await.expect_err("500");
    assert_eq!((err.code, err.status), (ErrorCode::FetchFailed, Some(500)));
    let again = cache.load().await.expect_err("still backing off");
    assert_eq!(again.code, ErrorCode::FetchFailed);
    assert_eq!(again.retry_after, Some(1), "the first backoff is 1 s");
    assert!(matches!(cache.usable(clock().now_ms()), Usable::Failing(_)));
    assert_eq!(server.count(), 1, "no request while backing off");
    clock().advance(1_001);
    let _ = cache.load().await;
    assert_eq!(server.count(), 2, "a retry once the backoff has passed");
    let third = cache.load().await.expect_err("backing off again");
    assert_eq!(third.retry_after, Some(2), "the backoff doubles");
}

async fn retry_after_is_obeyed() {
    let server = serve(Answer {
        status: "429 Too Many Requests",
        headers: vec!["retry-after: 7".into()],
        ..ok("")
    })
    .await;
    let cache = cache(&server.url);
    let err = cache.load().await.expect_err("429");
    assert_eq!(
        (err.code, err.retry_after),
        (ErrorCode::RateLimited, Some(7))
    );
    server.set(ok(JWKS));
    clock().advance(6_000);
    let err = cache.load().await.expect_err("Retry-After not over yet");
    assert_eq!(
        (err.code, err.retry_after),
        (ErrorCode::RateLimited, Some(1))
    );
    assert_eq!(server.count(), 1);
    clock().advance(1_001);
    assert!(cache.load().await.is_ok());
    assert_eq!(server.count(), 2);
}

async fn conditional_refresh() {
    let server = serve(Answer {
        headers: vec!["etag: \"v1\"".into(), "cache-control: max-age=60".into()],
        ..ok(JWKS)
    })
    .await;
    let cache = cache(&server.url);
    cache.load().await.expect("keys");
    let first = cache.health(clock().now_ms());
    assert_eq!(
        first.expires_at.unwrap() - first.fetched_at.unwrap(),
        60_000,
        "max-age=60 within [cooldown, maxAge]"
    );
    server.set(Answer {
        status: "304 Not Modified",
        headers: vec!["etag: \"v1\"".into()],
        ..ok("")
    });
    clock().advance(55_000); // past 90% of 60 s
    match cache.usable(clock().now_ms()) {
        Usable::Keys { stale, .. } => assert!(!stale),
        other => panic!("expected keys, got {other:?}"),
    }
    for _ in 0..200 {
        if cache.counters().not_modified.load(Ordering::SeqCst) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        cache.counters().not_modified.load(Ordering::SeqCst),
        1,
        "the refresh got a 304"
    );
    let conditional = server.requests.lock().expect("lock")[1].to_ascii_lowercase();
    assert!(
        conditional.contains("if-none-match: \"v1\""),
        "{conditional}"
    );
    assert!(
        cache.health(clock().now_ms()).fetched_at > first.fetched_at,
        "a 304 renews freshness"
    );
    assert_eq!(server.count(), 2);
}

async fn bad_body_keeps_good_keys() {
    let server = serve(ok(JWKS)).await;
    let cache = cache(&server.url);
    cache.load().await.expect("keys");
    for body in ["not json", "{}", "{\"keys\":5}"] {
        server.set(ok(body));
        clock().advance(600_001);
        let _ = cache.usable(clock().now_ms()); // due: starts a background refresh
        for _ in 0..200 {
            if cache.health(clock().now_ms()).last_error.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let health = cache.health(clock().now_ms());
        assert_eq!(
            health.last_error.map(|e| e.code),
            Some(ErrorCode::JwksInvalid),
            "{body}"
        );
        assert_eq!(health.kids, ["k1"], "{body}: good keys kept");
        assert!(
            matches!(
                cache.usable(clock().now_ms()),
                Usable::Keys { stale: true, .. }
            ),
            "{body}: stale keys serve"
        );
        clock().advance(31_000); // let the backoff pass before the next round
    }
}
