//! The shared tier: what a fleet of processes shares through Redis so that the provider's
//! limits, which apply to the fleet, are met by the fleet — JWKS and discovery documents (with
//! their freshness), revalidation answers, fleet-wide single flight (a short `SET NX PX` lock,
//! released by compare-and-delete) and the provider's `Retry-After`.
//!
//! In-process caches stay first: nothing here runs on a verification whose keys (and answer)
//! are cached in the process. Redis is a hint, never the authority: every entry is
//! authenticated (`entry`), then goes through the same parsing and rules as a provider answer;
//! a bad entry is a miss. Redis down, slow or refusing: each call is bounded by
//! `shared.timeout` and a circuit breaker (`redis`) skips Redis for a while, so behaviour is
//! exactly the per-process behaviour.

pub mod entry;
mod redis;

use std::sync::atomic::Ordering;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::redis::{cmd, Script};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

pub use self::redis::Counters;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::events::EventSink;
use crate::refresh::{Lifetime, MIN_BACKOFF_MS};
use crate::registry::{intern, Registry};
use entry::Keys;

/// Default `shared.prefix`.
pub const DEFAULT_PREFIX: &str = "jwks-verify";
/// Default `shared.timeout`: 50 ms per Redis call.
pub const DEFAULT_TIMEOUT_MS: u64 = crate::options::durations::SHARED_TIMEOUT.default_or_zero_ms();
/// How often a process waiting for another's provider call looks for its result.
const POLL_MS: u64 = 25;

/// The `shared` option, parsed.
#[derive(Clone, PartialEq, Eq)]
pub struct SharedOptions {
    /// `redis://…` or `rediss://…` (TLS).
    pub redis: String,
    /// At least 32 bytes: entries are authenticated (and tokens encrypted) with keys derived from it.
    pub secret: Vec<u8>,
    /// Prefix of every Redis key. Defaults to [`DEFAULT_PREFIX`].
    pub prefix: String,
    /// Longest time one Redis call may take. Defaults to [`DEFAULT_TIMEOUT_MS`].
    pub timeout_ms: u64,
}

impl std::fmt::Debug for SharedOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedOptions")
            .field("redis", &"(hidden)")
            .field("secret", &"(hidden)")
            .field("prefix", &self.prefix)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// A document the fleet shares (a JWKS, a discovery document, a liveness answer), with its
/// times (epoch ms) and HTTP validators.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Document {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    pub fetched_at: u64,
    pub expires_at: u64,
    pub refresh_at: u64,
}

impl Document {
    /// The lifetime left at `now`: fresh until `expires_at`, refreshed ahead from `refresh_at`.
    pub fn lifetime(&self, now: u64) -> Lifetime {
        Lifetime {
            fresh_ms: self.expires_at.saturating_sub(now),
            refresh_after_ms: self.refresh_at.saturating_sub(now),
        }
    }
}

/// A provider failure, as the fleet shares it.
#[derive(Serialize, Deserialize)]
struct SharedFailure {
    until: u64,
    code: String,
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
}

/// The shared tier of one (Redis URL, prefix, secret): one connection for the process.
pub struct SharedTier {
    conn: self::redis::RedisConn,
    keys: Keys,
    prefix: String,
    clock: Clock,
}

impl std::fmt::Debug for SharedTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTier")
            .field("redis", &self.conn.display)
            .field("prefix", &self.prefix)
            .finish()
    }
}

/// A fleet lock held by this process.
pub struct Lock {
    key: String,
    token: String,
}

/// The outcome of asking for the fleet lock.
pub enum Turn {
    /// Ours: make the provider call, then [`SharedTier::put`] and [`SharedTier::unlock`].
    Ours(Lock),
    /// Another process is calling the provider: wait for its result.
    Theirs,
    /// Redis cannot be had: call the provider as one process would.
    Alone,
}

const UNLOCK: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

impl SharedTier {
    fn key(&self, kind: &str, id: &[u8]) -> String {
        format!("{}:{kind}:{}", self.prefix, self.keys.name(id))
    }

    /// The tier's events (`warning` when Redis fails, `info` when it is back).
    pub fn subscribe(&self, sink: Arc<dyn EventSink>) -> u64 {
        self.conn.events.subscribe(sink)
    }

    /// Stop receiving events.
    pub fn unsubscribe(&self, id: u64) {
        self.conn.events.unsubscribe(id);
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.conn.counters
    }

    /// True while Redis is skipped after failures.
    pub fn is_down(&self) -> bool {
        self.conn.is_down()
    }

    /// The document shared under (`kind`, `id`), if present and authentic.
    pub async fn get(&self, kind: &str, id: &[u8]) -> Option<Document> {
        let key = self.key(kind, id);
        let raw: Option<Vec<u8>> = self.conn.query(cmd("GET").arg(&key)).await?;
        let Some(raw) = raw else {
            self.conn.counters.misses.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let doc = self
            .keys
            .open(&key, &raw)
            .ok()
            .and_then(|payload| serde_json::from_slice::<Document>(&payload).ok());
        if doc.is_none() {
            // Tampered, foreign (another secret) or garbage: a miss, counted.
            self.conn.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        doc
    }

    /// Share a document for `ttl_ms`.
    pub async fn put(&self, kind: &str, id: &[u8], doc: &Document, ttl_ms: u64) {
        let Ok(payload) = serde_json::to_vec(doc) else {
            return;
        };
        let key = self.key(kind, id);
        let value = self.keys.seal(&key, &payload);
        let _: Option<()> = self
            .conn
            .query(cmd("SET").arg(&key).arg(value).arg("PX").arg(ttl_ms.max(1)))
            .await;
    }

    /// An encrypted secret shared under (`kind`, `id`) (client-credentials tokens).
    pub async fn get_secret(&self, kind: &str, id: &[u8]) -> Option<Vec<u8>> {
        let key = self.key(kind, id);
        let raw: Option<Vec<u8>> = self.conn.query(cmd("GET").arg(&key)).await?;
        let plain = self.keys.open_secret(&key, &raw?).ok();
        if plain.is_none() {
            self.conn.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        plain
    }

    /// Share a secret, encrypted, for `ttl_ms`.
    pub async fn put_secret(&self, kind: &str, id: &[u8], plain: &[u8], ttl_ms: u64) {
        let key = self.key(kind, id);
        let value = self.keys.seal_secret(&key, plain);
        if value.is_empty() {
            return;
        }
        let _: Option<()> = self
            .conn
            .query(cmd("SET").arg(&key).arg(value).arg("PX").arg(ttl_ms.max(1)))
            .await;
    }

    /// Ask for the fleet lock of (`kind`, `id`) for at most `ttl_ms`.
    pub async fn lock(&self, kind: &str, id: &[u8], ttl_ms: u64) -> Turn {
        let key = self.key(&format!("lock:{kind}"), id);
        let mut nonce = [0u8; 16];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            return Turn::Alone;
        }
        let token: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
        let set: Option<Option<String>> = self
            .conn
            .query(
                cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms.max(1)),
            )
            .await;
        match set {
            Some(Some(_)) => Turn::Ours(Lock { key, token }),
            Some(None) => Turn::Theirs,
            None => Turn::Alone,
        }
    }

    /// Release a lock we hold (compare-and-delete: never another process's).
    pub async fn unlock(&self, lock: Lock) {
        let _: Option<i64> = self
            .conn
            .script(&Script::new(UNLOCK), &[&lock.key], &[&lock.token])
            .await;
    }

    /// Wait (polling) while another process calls the provider: `Some(Ok(..))` when `accept`
    /// takes the document it shared, `Some(Err(..))` when it shared a failure instead (the fleet
    /// then backs off together), `None` after `max` or when Redis failed meanwhile.
    pub async fn wait_for<T>(
        &self,
        kind: &str,
        id: &[u8],
        max: Duration,
        accept: impl Fn(&Document) -> Option<T>,
    ) -> Option<Result<T>> {
        self.conn
            .counters
            .lock_waits
            .fetch_add(1, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + max;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(POLL_MS)).await;
            if self.is_down() {
                return None;
            }
            if let Some(found) = self.get(kind, id).await.as_ref().and_then(&accept) {
                self.conn.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Some(Ok(found));
            }
            if let Some(err) = self.failure(kind, id).await {
                return Some(Err(err));
            }
        }
        None
    }

    /// The failure another process of the fleet had calling the provider about (`kind`, `id`),
    /// while the fleet backs off from it (its `retryAfter` = the seconds left).
    pub async fn failure(&self, kind: &str, id: &[u8]) -> Option<Error> {
        let key = self.key(&format!("fail:{kind}"), id);
        let raw: Option<Vec<u8>> = self.conn.query(cmd("GET").arg(&key)).await?;
        let payload = self.keys.open(&key, &raw?).ok()?;
        let shared: SharedFailure = serde_json::from_slice(&payload).ok()?;
        let left = shared
            .until
            .checked_sub(self.clock.now_ms())
            .filter(|l| *l > 0)?;
        let code = crate::ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == shared.code)?;
        let mut err = Error::new(code, shared.message);
        err.status = shared.status;
        err.retry_after = Some(left.div_ceil(1000));
        Some(err)
    }

    /// Tell the fleet that calling the provider about (`kind`, `id`) failed with `err`: the
    /// others back off for `wait_ms` (the provider's `Retry-After` when longer).
    pub async fn set_failure(&self, kind: &str, id: &[u8], err: &Error, wait_ms: u64) {
        let key = self.key(&format!("fail:{kind}"), id);
        let ms = err
            .retry_after
            .map_or(wait_ms, |s| wait_ms.max(s.saturating_mul(1000)))
            .max(1);
        let shared = SharedFailure {
            until: self.clock.now_ms().saturating_add(ms),
            code: err.code.as_str().to_owned(),
            message: err.message.clone(),
            status: err.status,
        };
        let Ok(payload) = serde_json::to_vec(&shared) else {
            return;
        };
        let value = self.keys.seal(&key, &payload);
        let _: Option<()> = self
            .conn
            .query(cmd("SET").arg(&key).arg(value).arg("PX").arg(ms))
            .await;
    }

    /// `plain` encrypted for the document (`kind`, `id`): for a [`Document`] body that holds a
    /// secret (client-credentials tokens). Bound to the key, so it cannot be moved.
    pub fn encrypt(&self, kind: &str, id: &[u8], plain: &[u8]) -> Option<String> {
        self.keys.encrypt(&self.key(kind, id), plain)
    }

    /// The plaintext of [`SharedTier::encrypt`]'s output (`None`, counted, when it does not decrypt).
    pub fn decrypt(&self, kind: &str, id: &[u8], text: &str) -> Option<Vec<u8>> {
        let plain = self.keys.decrypt(&self.key(kind, id), text.as_bytes()).ok();
        if plain.is_none() {
            self.conn.counters.errors.fetch_add(1, Ordering::Relaxed);
        }
        plain
    }

    /// Count an accepted entry.
    pub fn hit(&self) {
        self.conn.counters.hits.fetch_add(1, Ordering::Relaxed);
    }

    /// The clock the tier reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

type TierId = (String, String, Vec<u8>, u64, usize);
static REGISTRY: Registry<TierId, SharedTier> = OnceLock::new();

/// The process-wide tier of these options (one Redis connection per URL, prefix and secret).
pub fn shared(options: &SharedOptions, clock: &Clock) -> Result<Arc<SharedTier>> {
    let id = (
        options.redis.clone(),
        options.prefix.clone(),
        options.secret.clone(),
        options.timeout_ms,
        clock.id(),
    );
    let (tier, existed) = intern(&REGISTRY, id, || {
        Ok(Arc::new(SharedTier {
            conn: self::redis::RedisConn::new(
                &options.redis,
                Duration::from_millis(options.timeout_ms),
                clock.clone(),
            )?,
            keys: Keys::derive(&options.secret)?,
            prefix: options.prefix.clone(),
            clock: clock.clone(),
        }))
    })?;
    if !existed {
        // Connect now, in the background, so the first verification that needs Redis does not
        // pay for the connection.
        let warm = Arc::clone(&tier);
        crate::runtime::spawn(async move { warm.conn.warm().await });
    }
    Ok(tier)
}

/// A short error for a value the tier refused, when one is needed.
pub fn refused(what: &str) -> Error {
    Error::new(
        crate::ErrorCode::FetchFailed,
        format!("the shared {what} entry was refused"),
    )
}

/// What [`coordinate`] is about: the kind of document, its identity (hashed into the key name),
/// how long to wait for another process's provider call, and how long a shared document is kept
/// past its expiry.
pub struct Topic<'a> {
    pub kind: &'a str,
    pub id: &'a [u8],
    pub wait: Duration,
    pub keep_ms: u64,
}

/// One provider call for the whole fleet: a document another process shared is taken when
/// `accept` takes it; otherwise the process that gets the lock calls the provider and shares
/// the result (kept `keep_ms` past its expiry), while the others wait for it (at most `wait`)
/// and call the provider themselves only when it does not come. A `Retry-After` the provider
/// gave any process, or its failure (for 1 s), is shared with all: the fleet backs off together.
/// With Redis down this is exactly `provider()`.
pub async fn coordinate<T, F>(
    tier: &SharedTier,
    topic: &Topic<'_>,
    accept: impl Fn(&Document) -> Option<T>,
    provider: impl FnOnce() -> F,
) -> Result<T>
where
    F: std::future::Future<Output = Result<(T, Option<Document>)>>,
{
    let Topic {
        kind,
        id,
        wait,
        keep_ms,
    } = *topic;
    if let Some(found) = tier.get(kind, id).await.as_ref().and_then(&accept) {
        tier.hit();
        return Ok(found);
    }
    let wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
    // The fleet backs off together after a failure one process had.
    if let Some(err) = tier.failure(kind, id).await {
        return Err(err);
    }
    let lock = match tier.lock(kind, id, wait_ms.saturating_mul(2)).await {
        Turn::Ours(lock) => {
            // Another process may have shared the document (or its failure) between our look
            // and our lock.
            if let Some(found) = tier.get(kind, id).await.as_ref().and_then(&accept) {
                tier.unlock(lock).await;
                tier.hit();
                return Ok(found);
            }
            if let Some(err) = tier.failure(kind, id).await {
                tier.unlock(lock).await;
                return Err(err);
            }
            Some(lock)
        }
        Turn::Theirs => match tier.wait_for(kind, id, wait, &accept).await {
            Some(outcome) => return outcome,
            None => None,
        },
        Turn::Alone => None,
    };
    let result = async {
        let outcome = provider().await;
        match &outcome {
            Ok((_, Some(doc))) => {
                let ttl = doc
                    .expires_at
                    .saturating_sub(tier.clock().now_ms())
                    .saturating_add(keep_ms);
                tier.put(kind, id, doc, ttl).await;
            }
            Err(e) => tier.set_failure(kind, id, e, MIN_BACKOFF_MS).await,
            _ => {}
        }
        outcome.map(|(value, _)| value)
    }
    .await;
    if let Some(lock) = lock {
        tier.unlock(lock).await;
    }
    result
}
