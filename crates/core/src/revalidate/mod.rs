//! Token liveness: is a token that verifies still live? Answers of the issuer's validation
//! endpoint (RFC 7662 introspection, or a bearer endpoint such as SCAYLE's `token/validate` or
//! Genesys' `tokens/me`), cached per token under its SHA-256 (never the token itself), each
//! answer kept by a [`Refresher`]: single flight per token, refresh ahead at 80% of `interval`,
//! never trusted past the token's `exp`, failures backed off, `staleIfError` bounding how long an
//! old "active" answer covers a failing endpoint. A failure is never read as an answer.
//!
//! Files: `options` (the `revalidate` option), `answer` (what a response means), `endpoint`
//! (how a token is put to the endpoint; its Retry-After gate, events, counters).

mod answer;
mod endpoint;
pub mod options;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aws_lc_rs::digest;
use futures_util::future::{BoxFuture, FutureExt};
use quick_cache::sync::Cache;
use serde_json::Value;

pub use answer::{Form, Liveness};
pub use endpoint::Counters;
pub use options::{Mode, RevalidateOptions};

use crate::clock::Clock;
use crate::discovery::Discovery;
use crate::error::{Error, ErrorCode, Result};
use crate::events::EventSink;
use crate::fetch::HttpOptions;
use crate::refresh::{Fresh, Lifetime, RefreshPolicy, Refresher, Source, View};
use crate::store::{coordinate, Document, SharedTier, Topic};
use endpoint::Endpoint;

/// The kind of shared-tier entry that holds liveness answers.
const SHARED_KIND: &str = "live";

/// Percentage of an answer's lifetime after which the next use refreshes it in the background.
pub const REFRESH_AT_PERCENT: u64 = 80;

/// One answer of the endpoint.
#[derive(Debug)]
pub struct Answer {
    pub active: bool,
    /// The answer's JSON object as text (introspection answer or bearer body), for opaque tokens.
    pub payload_json: Option<String>,
}

/// What the cache says without I/O.
#[derive(Debug)]
pub enum Cached {
    /// A fresh "active" answer.
    Active(Arc<Answer>),
    /// A fresh "inactive" answer: ERR_TOKEN_INACTIVE.
    Inactive(Error),
    /// No answer young enough: the endpoint must be asked.
    Pending,
}

/// What a [`Revalidator`] works with besides its options.
pub struct Context<'a> {
    pub http: &'a HttpOptions,
    /// The issuer's discovery (for an introspection endpoint that is not given).
    pub discovery: Option<Arc<Discovery>>,
    pub clock: Clock,
    /// Longest backoff after failures (the key cache's cooldown).
    pub max_backoff_ms: u64,
    pub sink: Option<Arc<dyn EventSink>>,
    pub issuer: Option<String>,
    /// The fleet's shared tier, when `shared` is set.
    pub tier: Option<Arc<SharedTier>>,
}

/// The revalidation of one issuer. See the module documentation.
pub struct Revalidator {
    options: RevalidateOptions,
    endpoint: Arc<Endpoint>,
    answers: Cache<[u8; 32], Arc<Refresher<Check>>>,
    clock: Clock,
    policy: RefreshPolicy,
    tier: Option<Arc<SharedTier>>,
}

impl Revalidator {
    /// A revalidator for one issuer.
    pub fn new(options: RevalidateOptions, ctx: Context) -> Result<Revalidator> {
        let endpoint = Endpoint::new(
            &options.mode,
            ctx.http,
            ctx.discovery,
            ctx.clock.clone(),
            ctx.sink,
            ctx.issuer,
        )?;
        Ok(Revalidator {
            answers: Cache::new(options.max_entries),
            policy: RefreshPolicy {
                max_stale_ms: options.stale_if_error_ms,
                max_backoff_ms: ctx.max_backoff_ms,
            },
            endpoint: Arc::new(endpoint),
            clock: ctx.clock,
            options,
            tier: ctx.tier,
        })
    }

    /// The options.
    pub fn options(&self) -> &RevalidateOptions {
        &self.options
    }

    /// Counters.
    pub fn counters(&self) -> &Counters {
        &self.endpoint.counters
    }

    /// The cached answer for `token` at `now`, without I/O (starting a background refresh when
    /// one is due). `known` is the token's answer slot when the caller kept it (a token-cache
    /// entry does): the look-up by hash is skipped.
    pub fn cached(&self, token: &str, now: u64, known: Option<&Slot>) -> Cached {
        let found;
        let check = match known {
            Some(slot) => &slot.0,
            None => match self.answers.get(&key(token)) {
                Some(c) => {
                    found = c;
                    &found
                }
                None => return Cached::Pending,
            },
        };
        // The common case: a fresh answer not yet due for refresh needs no token and no lock.
        if let Some(entry) = check.entry() {
            if now < entry.refresh_at && now < entry.expires_at {
                return self.hit(&entry.value);
            }
        }
        let _offer = check.source().offer(token);
        match check.peek(now) {
            View::Fresh(entry) => self.hit(&entry.value),
            _ => Cached::Pending,
        }
    }

    fn hit(&self, answer: &Arc<Answer>) -> Cached {
        self.counters().hits.fetch_add(1, Ordering::Relaxed);
        if answer.active {
            Cached::Active(Arc::clone(answer))
        } else {
            self.counters().inactive.fetch_add(1, Ordering::Relaxed);
            Cached::Inactive(inactive())
        }
    }

    /// The answer for `token`, asking the endpoint when no answer is young enough (one call for
    /// any number of concurrent verifications of the token). `exp_s` is the token's `exp`
    /// (seconds), which no answer outlives. Inactive: ERR_TOKEN_INACTIVE; no answer to be had:
    /// ERR_REVALIDATION_FAILED.
    pub async fn check(&self, token: &str, exp_s: Option<f64>) -> Result<(Arc<Answer>, Slot)> {
        let k = key(token);
        let check = self
            .answers
            .get_or_insert_with(&k, || -> std::result::Result<_, ()> {
                Ok(Refresher::new(
                    Arc::new(Check {
                        endpoint: Arc::clone(&self.endpoint),
                        pending: Mutex::new((0, None)),
                        exp_ms: exp_s.map(seconds_to_ms),
                        interval_ms: self.options.interval_ms,
                        clock: self.clock.clone(),
                        tier: self.tier.clone(),
                        last_fetched: AtomicU64::new(0),
                    }),
                    self.policy,
                    self.clock.clone(),
                ))
            })
            .map_err(|_| Error::new(ErrorCode::RevalidationFailed, "the answer cache failed"))?;
        let _offer = check.source().offer(token);
        let now = self.clock.now_ms();
        let slot = Slot(Arc::clone(&check));
        let answer = match check.peek(now) {
            View::Fresh(entry) => {
                return match self.hit(&entry.value) {
                    Cached::Active(a) => Ok((a, slot)),
                    _ => Err(inactive()),
                }
            }
            View::Stale(entry) => match check.fresh_or_load().await {
                Ok(answer) => answer,
                // An old "active" answer covers a failing endpoint up to `staleIfError`.
                Err(_) if entry.value.active => {
                    self.counters().hits.fetch_add(1, Ordering::Relaxed);
                    Arc::clone(&entry.value)
                }
                Err(e) => return Err(e),
            },
            View::Failing(e) => return Err(e),
            View::Missing => check.fresh_or_load().await?,
        };
        if answer.active {
            Ok((answer, slot))
        } else {
            Err(inactive())
        }
    }
}

/// The answer slot of one token, which a token-cache entry keeps so that later verifications
/// of the token reach its answer without hashing it.
#[derive(Clone)]
pub struct Slot(Arc<Refresher<Check>>);

fn inactive() -> Error {
    Error::new(
        ErrorCode::TokenInactive,
        "the issuer's validation endpoint says the token is no longer active (revoked, expired or unknown)",
    )
}

fn key(token: &str) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, token.as_bytes());
    let mut k = [0u8; 32];
    k.copy_from_slice(d.as_ref());
    k
}

fn seconds_to_ms(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1000.0).min(u64::MAX as f64) as u64
    } else {
        0
    }
}

/// The question "is this token live?" for one token: a [`Source`] for its answer. The token
/// itself is held only while verifications of it are running (`offer`), never in the cache.
struct Check {
    endpoint: Arc<Endpoint>,
    /// (verifications holding the token, the token).
    pending: Mutex<(usize, Option<String>)>,
    exp_ms: Option<u64>,
    interval_ms: u64,
    clock: Clock,
    /// The fleet's shared tier, when `shared` is set.
    tier: Option<Arc<SharedTier>>,
    /// When the answer held arrived (epoch ms), as the fleet shares it.
    last_fetched: AtomicU64,
}

/// The shared form of an answer.
#[derive(serde::Serialize, serde::Deserialize)]
struct SharedAnswer {
    active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload: Option<String>,
}

/// Holds the token in a [`Check`] while one verification runs.
struct Offer<'a>(&'a Check);

impl Check {
    fn lock(&self) -> MutexGuard<'_, (usize, Option<String>)> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn offer(&self, token: &str) -> Offer<'_> {
        let mut p = self.lock();
        p.0 += 1;
        if p.1.is_none() {
            p.1 = Some(token.to_owned());
        }
        Offer(self)
    }

    /// Ask the endpoint; the answer, and its shared form.
    async fn ask(&self, token: &str) -> Result<(Fresh<Answer>, Option<Document>)> {
        let liveness = self.endpoint.call(token).await?;
        let now = self.clock.now_ms();
        let lifetime = self.lifetime(&liveness, now);
        let answer = Answer {
            active: liveness.active,
            payload_json: liveness.payload.map(|p| Value::Object(p).to_string()),
        };
        self.last_fetched.store(now, Ordering::Relaxed);
        let shared = SharedAnswer {
            active: answer.active,
            payload: answer.payload_json.clone(),
        };
        // The answer may hold the token's claims (introspection): the fleet shares it encrypted.
        let body = serde_json::to_string(&shared)
            .ok()
            .and_then(|json| match &self.tier {
                Some(tier) => tier.encrypt(SHARED_KIND, token.as_bytes(), json.as_bytes()),
                None => Some(json),
            });
        let doc = body.map(|body| Document {
            body,
            etag: None,
            last_modified: None,
            fetched_at: now,
            expires_at: now.saturating_add(lifetime.fresh_ms),
            refresh_at: now.saturating_add(lifetime.refresh_after_ms),
        });
        Ok((Fresh::New(Arc::new(answer), lifetime), doc))
    }

    /// An answer another process of the fleet got, when it is newer than ours and fresh.
    fn adopt(&self, doc: &Document, token: &str) -> Option<Fresh<Answer>> {
        let now = self.clock.now_ms();
        if doc.expires_at <= now || doc.fetched_at <= self.last_fetched.load(Ordering::Relaxed) {
            return None;
        }
        let plain = self
            .tier
            .as_ref()?
            .decrypt(SHARED_KIND, token.as_bytes(), &doc.body)?;
        let shared: SharedAnswer = serde_json::from_slice(&plain).ok()?;
        self.last_fetched.store(doc.fetched_at, Ordering::Relaxed);
        Some(Fresh::New(
            Arc::new(Answer {
                active: shared.active,
                payload_json: shared.payload,
            }),
            doc.lifetime(now),
        ))
    }

    /// How long an answer lives: "active" up to `interval`, inactive until `exp` (or
    /// `interval`), never past the token's or the answer's `exp`.
    fn lifetime(&self, liveness: &Liveness, now: u64) -> Lifetime {
        let cap = [self.exp_ms, liveness.exp.map(seconds_to_ms)]
            .into_iter()
            .flatten()
            .min()
            .map(|exp| exp.saturating_sub(now));
        if liveness.active {
            let fresh = cap.map_or(self.interval_ms, |c| c.min(self.interval_ms));
            Lifetime::refresh_at_percent(fresh, REFRESH_AT_PERCENT)
        } else {
            let fresh = cap.unwrap_or(self.interval_ms);
            Lifetime {
                fresh_ms: fresh,
                refresh_after_ms: fresh,
            }
        }
    }
}

impl Drop for Offer<'_> {
    fn drop(&mut self) {
        let mut p = self.0.lock();
        p.0 = p.0.saturating_sub(1);
        if p.0 == 0 {
            p.1 = None;
        }
    }
}

impl Source for Check {
    type Value = Answer;

    fn fetch(self: Arc<Self>, _: Option<Arc<Answer>>) -> BoxFuture<'static, Result<Fresh<Answer>>> {
        let token = self.lock().1.clone();
        async move {
            let token = token.ok_or_else(|| self.task_failed())?;
            let Some(tier) = self.tier.clone() else {
                return self.ask(&token).await.map(|(fresh, _)| fresh);
            };
            let topic = Topic {
                kind: SHARED_KIND,
                id: token.as_bytes(),
                wait: self.endpoint.timeout(),
                keep_ms: 0,
            };
            coordinate(
                &tier,
                &topic,
                |doc| self.adopt(doc, &token),
                || self.ask(&token),
            )
            .await
        }
        .boxed()
    }

    fn task_failed(&self) -> Error {
        Error::new(
            ErrorCode::RevalidationFailed,
            "the revalidation task failed",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(exp_ms: Option<u64>, interval_ms: u64) -> Check {
        let endpoint = Endpoint::new(
            &Mode::Bearer {
                endpoint: "https://v.example/validate".to_owned(),
                method: reqwest::Method::GET,
            },
            &HttpOptions::default(),
            None,
            Clock::system(),
            None,
            None,
        )
        .expect("endpoint");
        Check {
            endpoint: Arc::new(endpoint),
            pending: Mutex::new((0, None)),
            exp_ms,
            interval_ms,
            clock: Clock::system(),
            tier: None,
            last_fetched: AtomicU64::new(0),
        }
    }

    fn live(active: bool, exp: Option<f64>) -> Liveness {
        Liveness {
            active,
            payload: None,
            exp,
        }
    }

    #[test]
    fn answer_lifetimes() {
        let now = 1_000_000;
        // (token exp ms, interval, answer, fresh ms, refresh after ms)
        let cases: [(Option<u64>, u64, Liveness, u64, u64); 6] = [
            (None, 300_000, live(true, None), 300_000, 240_000),
            (
                Some(now + 60_000),
                300_000,
                live(true, None),
                60_000,
                48_000,
            ),
            (None, 300_000, live(true, Some(1_030.0)), 30_000, 24_000),
            (None, 0, live(true, None), 0, 0),
            (
                Some(now + 600_000),
                300_000,
                live(false, None),
                600_000,
                600_000,
            ),
            (None, 300_000, live(false, None), 300_000, 300_000),
        ];
        for (i, (exp, interval, liveness, fresh, refresh)) in cases.into_iter().enumerate() {
            let l = check(exp, interval).lifetime(&liveness, now);
            assert_eq!(
                (l.fresh_ms, l.refresh_after_ms),
                (fresh, refresh),
                "case {i}"
            );
        }
        let past = check(Some(now - 1), 300_000).lifetime(&live(true, None), now);
        assert_eq!(past.fresh_ms, 0, "an expired token's answer is never fresh");
    }

    #[test]
    fn the_token_is_held_only_while_offered() {
        let c = check(None, 1);
        {
            let _a = c.offer("t1");
            let _b = c.offer("t1");
            drop(_a);
            assert_eq!(
                c.lock().1.as_deref(),
                Some("t1"),
                "still held by one verification"
            );
        }
        assert_eq!(*c.lock(), (0, None), "forgotten when the last one ends");
        assert_ne!(key("a"), key("b"));
    }
}
