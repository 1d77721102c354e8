//! The `http` and `cache` sections of the options.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::fetch::{Fetcher, HttpOptions};
use crate::key_cache::CachePolicy;
use crate::options::durations::{self, DurationOption};
use crate::options::reader::{kind, Object};

const CACHE_KEYS: [&str; 3] = ["maxAge", "cooldown", "maxStale"];
const HTTP_KEYS: [&str; 5] = ["timeout", "headers", "maxBytes", "allowHttp", "ca"];

/// `cache.*` over [`CachePolicy::default`].
pub fn parse_cache(o: &Object<'_>) -> Result<CachePolicy> {
    let mut policy = CachePolicy::default();
    let Some(c) = o.object("cache", &CACHE_KEYS)? else {
        return Ok(policy);
    };
    let ms = |key: &str, option: &DurationOption| -> Result<Option<u64>> {
        Ok(c.duration(key, option)?.map(|ms| ms.ceil() as u64))
    };
    let max_age = ms("maxAge", &durations::CACHE_MAX_AGE)?;
    let cooldown = ms("cooldown", &durations::CACHE_COOLDOWN)?;
    if let Some(v) = max_age {
        policy.max_age_ms = v;
    }
    if let Some(v) = cooldown {
        policy.cooldown_ms = v;
    }
    if let Some(v) = ms("maxStale", &durations::CACHE_MAX_STALE)? {
        policy.max_stale_ms = v;
    }
    if policy.cooldown_ms > policy.max_age_ms {
        let seconds = |ms: u64| durations::human(ms as f64 / 1000.0);
        let given = |set: Option<u64>| if set.is_some() { "" } else { ", the default" };
        return Err(Error::options(
            &c.path("cooldown"),
            format!(
                "({}{}) is longer than \"{}\" ({}{}): refetches for an unknown kid could not happen within maxAge; make cooldown at most maxAge",
                seconds(policy.cooldown_ms),
                given(cooldown),
                c.path("maxAge"),
                seconds(policy.max_age_ms),
                given(max_age),
            ),
        ));
    }
    Ok(policy)
}

/// `http.*` over [`HttpOptions::default`]; headers and CA are checked by building a client.
pub fn parse_http(o: &Object<'_>) -> Result<HttpOptions> {
    let mut http = HttpOptions::default();
    let Some(h) = o.object("http", &HTTP_KEYS)? else {
        return Ok(http);
    };
    if let Some(f) = h.get("timeout") {
        let ms = f.duration(&durations::HTTP_TIMEOUT)?;
        http.timeout =
            Duration::try_from_secs_f64(ms / 1000.0).map_err(|_| f.error("is too large"))?;
    }
    if let Some(f) = h.get("maxBytes") {
        http.max_bytes = f.positive_integer()?;
    }
    if let Some(allow) = h.boolean("allowHttp")? {
        http.allow_http = allow;
    }
    if let Some(f) = h.get("ca") {
        http.ca = Some(
            f.string()
                .map_err(|_| f.error(format!("must be a PEM string, got {}", kind(f.value))))?,
        );
    }
    if let Some(f) = h.get("headers") {
        let headers = f.object().map_err(|_| {
            f.error(format!(
                "must be an object of strings, got {}",
                kind(f.value)
            ))
        })?;
        for (name, value) in headers.members() {
            http.headers.push((
                name.clone(),
                value
                    .string()
                    .map_err(|_| value.error("must be a string"))?,
            ));
        }
    }
    // Validate headers and CA now, so the constructor throws rather than the first fetch.
    Fetcher::new(http.clone())?;
    Ok(http)
}
