//! Process-wide registries of shared state (key caches, discovery documents), keyed by what
//! makes two users of a URL interchangeable, holding weak references so unused state is freed.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use crate::error::Result;
use crate::fetch::HttpOptions;

/// A registry: a lazily created map of weak references.
pub(crate) type Registry<K, V> = OnceLock<Mutex<HashMap<K, Weak<V>>>>;

/// The part of the HTTP options that makes requests differ: headers (sorted) and extra CAs.
pub(crate) fn client_identity(http: &HttpOptions) -> (Vec<(String, String)>, Option<String>) {
    let mut headers = http.headers.clone();
    headers.sort();
    (headers, http.ca.clone())
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
