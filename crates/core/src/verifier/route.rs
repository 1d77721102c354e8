//! The cheap checks before any signature: token shape -> `alg` allowed -> `crit` -> issuer
//! routing (an unknown `iss` is refused here, before any key lookup or I/O) -> the issuer's own
//! `alg` list; then the key lookup, which says which keys to try or what I/O is needed.

use std::sync::Arc;

use crate::algorithm::{parse_allowed, Algorithm};
use crate::discovery::Discovery;
use crate::error::{Error, ErrorCode, Result};
use crate::key::Key;
use crate::key_cache::{KeyCache, Usable};
use crate::options::KeySource;
use crate::token::{self, Text, Token};
use crate::verifier::issuer::Keys;
use crate::verifier::report::Counters;
use crate::verifier::Inner;

/// What the key lookup found.
pub enum Lookup {
    /// The keys to try.
    Keys(Vec<Arc<Key>>),
    /// Discovery must run first.
    Discover(Arc<Discovery>),
    /// The cache has no usable keys: load them.
    Load(Arc<KeyCache>),
    /// The token names a key the set lacks, and a refetch is allowed.
    Refetch(Arc<KeyCache>),
}

impl Inner {
    /// Shape, `alg`, `crit`, issuer routing, and the issuer's own `alg` list.
    pub(super) fn route(&self, token: &str) -> Result<(Token, Algorithm, usize)> {
        let parsed = token::parse(token, self.options.max_token_length)?;
        let alg = parse_allowed(parsed.header.alg.as_deref(), &self.allowed)?;
        if parsed.header.b64 == Some(false) {
            return Err(Error::new(
                ErrorCode::NotSupported,
                "unencoded payloads (\"b64\": false) are not supported",
            ));
        }
        if let Some(crit) = &parsed.header.crit {
            if let Some(ext) = crit.iter().find(|name| name.as_str() != "b64") {
                return Err(Error::new(
                    ErrorCode::NotSupported,
                    format!("extension header parameter {ext:?} is not supported"),
                ));
            }
        }
        let issuer = self.route_issuer(&parsed)?;
        let alg = parse_allowed(Some(alg.name()), &self.issuers[issuer].options.algorithms)?;
        Ok((parsed, alg, issuer))
    }

    fn route_issuer(&self, parsed: &Token) -> Result<usize> {
        let unchecked = self.issuers.iter().position(|i| i.options.issuer.is_none());
        let configured = || -> String {
            let names: Vec<&str> = self
                .issuers
                .iter()
                .filter_map(|i| i.options.issuer.as_deref())
                .collect();
            names.join(", ")
        };
        match &parsed.claims.iss {
            Text::Value(iss) => {
                if let Some(i) = self
                    .issuers
                    .iter()
                    .position(|i| i.options.issuer.as_deref() == Some(iss.as_str()))
                {
                    return Ok(i);
                }
                unchecked.ok_or_else(|| {
                    Error::claim(
                        ErrorCode::ClaimValidationFailed,
                        "iss",
                        "check_failed",
                        format!(
                            "unexpected \"iss\" claim value {iss:?} (accepted: {})",
                            configured()
                        ),
                    )
                })
            }
            Text::Absent => unchecked.ok_or_else(|| {
                Error::claim(
                    ErrorCode::ClaimValidationFailed,
                    "iss",
                    "missing",
                    "missing required \"iss\" claim",
                )
            }),
            Text::WrongType => unchecked.ok_or_else(|| {
                Error::claim(
                    ErrorCode::ClaimValidationFailed,
                    "iss",
                    "invalid",
                    "\"iss\" claim must be a string",
                )
            }),
        }
    }

    /// The keys to try for a token of issuer `index`, or the I/O needed first.
    pub(super) fn lookup(
        &self,
        index: usize,
        alg: Algorithm,
        parsed: &Token,
        now: u64,
    ) -> Result<Lookup> {
        let issuer = &self.issuers[index];
        let kid = parsed.header.kid.as_deref();
        let local = self.options.local_keys.as_deref();
        if alg.is_hmac() {
            let mut keys: Vec<Arc<Key>> = self.options.secret.iter().cloned().collect();
            if let Some(local) = local {
                keys.extend(local.candidates(alg, kid).cloned());
            }
            return if keys.is_empty() {
                Err(no_matching_key(kid, alg, ""))
            } else {
                Ok(Lookup::Keys(keys))
            };
        }
        if let KeySource::Local | KeySource::None = issuer.options.source {
            let found: Vec<Arc<Key>> = local
                .iter()
                .flat_map(|l| l.candidates(alg, kid))
                .cloned()
                .collect();
            return if found.is_empty() {
                Err(no_matching_key(kid, alg, " (local key set)"))
            } else {
                Ok(Lookup::Keys(found))
            };
        }
        let cache = match issuer.keys(&self.options, now)? {
            Keys::Cache(cache) => cache,
            Keys::Discover(discovery) => return Ok(Lookup::Discover(discovery)),
        };
        match cache.usable(now) {
            Usable::Keys { keys, stale } => {
                if stale {
                    Counters::bump(&self.counters.stale_serves);
                }
                let found: Vec<Arc<Key>> = keys.candidates(alg, kid).cloned().collect();
                if !found.is_empty() {
                    return Ok(Lookup::Keys(found));
                }
                if cache.may_refetch(kid, now) {
                    return Ok(Lookup::Refetch(cache));
                }
                Counters::bump(&self.counters.cooldown_refusals);
                Err(no_matching_key(
                    kid,
                    alg,
                    " (the JWKS was refetched recently; next refetch after the cooldown)",
                ))
            }
            Usable::Failing(e) => Err(e),
            Usable::Missing => Ok(Lookup::Load(cache)),
        }
    }
}

/// ERR_JWKS_NO_MATCHING_KEY for a token's `kid` (or its absence), with `detail` appended.
pub fn no_matching_key(kid: Option<&str>, alg: Algorithm, detail: &str) -> Error {
    let message = match kid {
        Some(kid) => format!(
            "no key in the JWKS matches kid {kid:?} for {}{detail}",
            alg.name()
        ),
        None => format!(
            "no key in the JWKS fits {} (the token has no kid){detail}",
            alg.name()
        ),
    };
    Error::new(ErrorCode::NoMatchingKey, message).with_kid(kid)
}
