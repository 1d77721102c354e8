//! Process-wide registries of shared state (key caches, discovery documents), keyed by what
//! makes two users of a URL interchangeable, holding weak references so unused state is freed.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::Result;
use crate::fetch::HttpOptions;

/// A registry: a lazily created map of weak references.
pub(crate) type Registry<K, V> = OnceLock<Mutex<HashMap<K, Weak<V>>>>;

/// Everything of the HTTP options that decides what a client fetches and what it trusts:
/// headers (sorted), extra CAs, and the policy (`allowHttp`, `maxBytes`, `timeout`). State made
/// under one policy is never handed to a user of another (an https-only Verifier never uses
/// keys another fetched over plain http; a small `maxBytes` is never bypassed).
pub(crate) type ClientIdentity = (Vec<(String, String)>, Option<String>, bool, usize, u128);

/// The [`ClientIdentity`] of `http`.
pub(crate) fn client_identity(http: &HttpOptions) -> ClientIdentity {
    let mut headers = http.headers.clone();
    headers.sort();
    (
        headers,
        http.ca.clone(),
        http.allow_http,
        http.max_bytes,
        http.timeout.as_millis(),
    )
}

/// The live value for `id`, or a new one from `make`. The flag is true when it already existed.
pub(crate) fn intern<K: Hash + Eq, V>(
    registry: &Registry<K, V>,
    id: K,
    make: impl FnOnce() -> Result<Arc<V>>,
) -> Result<(Arc<V>, bool)> {
    let mut map = registry
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(existing) = map.get(&id).and_then(Weak::upgrade) {
        return Ok((existing, true));
    }
    map.retain(|_, weak| weak.strong_count() > 0);
    let value = make()?;
    map.insert(id, Arc::downgrade(&value));
    Ok((value, false))
}
