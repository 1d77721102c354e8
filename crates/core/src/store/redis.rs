//! The Redis connection of the shared tier: created lazily (start-up with Redis down works),
//! every command bounded by `shared.timeout`, and a circuit breaker that skips Redis for a
//! while after failures, so a down or hung Redis costs at most one timeout now and then.
//! Outages are reported once (`warning`), and so is the recovery (`info`).

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{cmd, Cmd, FromRedisValue, Script};

use crate::clock::Clock;
use crate::error::Error;
use crate::events::{Event, EventHub, EventKind};

/// Shortest and longest time Redis is skipped after failures.
const MIN_OPEN_MS: u64 = 1_000;
const MAX_OPEN_MS: u64 = 30_000;

/// How long opening the connection (and the warm-up PING) may take.
const CONNECT_BUDGET: Duration = Duration::from_secs(2);

/// Counters of the shared tier.
#[derive(Debug, Default)]
pub struct Counters {
    /// Entries found and accepted.
    pub hits: AtomicU64,
    /// Lookups that found nothing usable.
    pub misses: AtomicU64,
    /// Redis calls that failed or timed out, and entries refused (bad MAC, unparsable).
    pub errors: AtomicU64,
    /// Waits for another process's provider call.
    pub lock_waits: AtomicU64,
    /// Calls skipped because the breaker was open.
    pub skipped: AtomicU64,
}

/// See the module documentation.
pub struct RedisConn {
    client: redis::Client,
    /// The URL without credentials, for messages.
    pub display: String,
    manager: Mutex<Option<ConnectionManager>>,
    timeout: Duration,
    clock: Clock,
    open_until: AtomicU64,
    failures: AtomicU32,
    down: AtomicBool,
    pub counters: Counters,
    pub events: EventHub,
}

impl RedisConn {
    /// A connection to `url` (not opened yet).
    pub fn new(url: &str, timeout: Duration, clock: Clock) -> Result<RedisConn, Error> {
        let client = redis::Client::open(url).map_err(|e| {
            Error::options(
                "shared.redis",
                format!("is not a Redis URL ({:?})", e.kind()),
            )
        })?;
        Ok(RedisConn {
            client,
            display: redact(url),
            manager: Mutex::new(None),
            timeout,
            clock,
            open_until: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            down: AtomicBool::new(false),
            counters: Counters::default(),
            events: EventHub::default(),
        })
    }

    /// True while the breaker keeps Redis out of the way.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    fn manager(&self) -> Option<ConnectionManager> {
        let mut slot = self.manager.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            // Opening a connection may take longer than one command (a loaded host at start-up);
            // every command stays bounded by `timeout` in `query`.
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(self.timeout.max(CONNECT_BUDGET)))
                .set_response_timeout(Some(self.timeout))
                .set_number_of_retries(1)
                .set_max_delay(Duration::from_millis(200));
            *slot = ConnectionManager::new_lazy_with_config(self.client.clone(), config).ok();
        }
        slot.clone()
    }

    /// Open the connection ahead of the first verification that needs it, within the connect
    /// budget. A failure here is not an outage yet: no breaker, no event (the first real call
    /// decides).
    pub async fn warm(&self) {
        if let Some(mut conn) = self.manager() {
            let ping = cmd("PING");
            let _ =
                tokio::time::timeout(CONNECT_BUDGET, ping.query_async::<String>(&mut conn)).await;
        }
    }

    /// Run a command; `None` when Redis is skipped, fails, or takes longer than the timeout.
    pub async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Option<T> {
        let mut conn = self.ready()?;
        let outcome = tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut conn)).await;
        self.settle(
            outcome
                .map_err(|_| "timed out".to_owned())
                .and_then(|r| r.map_err(|e| plain(&e))),
        )
    }

    /// Run a script; as [`RedisConn::query`].
    pub async fn script<T: FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[&str],
    ) -> Option<T> {
        let mut conn = self.ready()?;
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(*a);
        }
        let outcome =
            tokio::time::timeout(self.timeout, invocation.invoke_async::<T>(&mut conn)).await;
        self.settle(
            outcome
                .map_err(|_| "timed out".to_owned())
                .and_then(|r| r.map_err(|e| plain(&e))),
        )
    }

    fn ready(&self) -> Option<ConnectionManager> {
        if self.clock.now_ms() < self.open_until.load(Ordering::Relaxed) {
            self.counters.skipped.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let conn = self.manager();
        if conn.is_none() {
            self.settle::<()>(Err("cannot create a connection".to_owned()));
        }
        conn
    }

    fn settle<T>(&self, outcome: Result<T, String>) -> Option<T> {
        match outcome {
            Ok(v) => {
                self.failures.store(0, Ordering::Relaxed);
                if self.down.swap(false, Ordering::Relaxed) {
                    self.report(
                        EventKind::Info,
                        format!("the shared tier (Redis at {}) is back", self.display),
                    );
                }
                Some(v)
            }
            Err(why) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                let n = self
                    .failures
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1);
                let open = MIN_OPEN_MS
                    .saturating_mul(1u64 << (n - 1).min(5))
                    .min(MAX_OPEN_MS);
                self.open_until
                    .store(self.clock.now_ms().saturating_add(open), Ordering::Relaxed);
                if !self.down.swap(true, Ordering::Relaxed) {
                    self.report(
                        EventKind::Warning,
                        format!(
                            "the shared tier (Redis at {}) failed ({why}): verifying without it, as one process would, until it answers again",
                            self.display
                        ),
                    );
                }
                None
            }
        }
    }

    fn report(&self, kind: EventKind, message: String) {
        let mut event = Event::new(kind, "");
        event.endpoint = Some(self.display.clone());
        event.shared = true;
        event.error = Some(Error::new(crate::ErrorCode::FetchFailed, message));
        self.events.emit(event);
    }
}

/// What went wrong with a Redis call, in words (no client-library type names).
fn plain(e: &redis::RedisError) -> String {
    if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connection_refusal() {
        "connection refused".to_owned()
    } else if e.is_connection_dropped() || e.is_io_error() {
        "the connection was lost".to_owned()
    } else {
        "it answered with an error".to_owned()
    }
}

/// `redis://user:password@host:port/db` without the user and password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            let _ = u.set_username("");
            u.to_string()
        }
        Err(_) => "(unparsable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_messages() {
        assert_eq!(
            redact("redis://u:pw@127.0.0.1:6379/0"),
            "redis://127.0.0.1:6379/0"
        );
        assert_eq!(
            redact("rediss://:pw@cache.example:6380"),
            "rediss://cache.example:6380"
        );
    }

    #[test]
    fn the_breaker_opens_after_a_failure_and_closes_on_success() {
        let clock = Clock::manual();
        let c = RedisConn::new(
            "redis://127.0.0.1:1",
            Duration::from_millis(50),
            clock.clone(),
        )
        .unwrap();
        assert!(c.settle::<()>(Err("refused".into())).is_none());
        assert!(c.is_down());
        assert!(c.ready().is_none(), "skipped while open");
        assert_eq!(c.counters.skipped.load(Ordering::Relaxed), 1);
        clock.advance(MIN_OPEN_MS);
        assert!(c.settle(Ok(5)).is_some());
        assert!(!c.is_down());
    }
}
