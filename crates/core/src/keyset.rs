//! A key set: the usable keys of one JWKS, indexed for lookup by `kid` and algorithm.

use std::sync::Arc;

use serde_json::Value;

use crate::algorithm::Algorithm;
use crate::error::{Error, Result};
use crate::jwk::{import, Origin};
use crate::key::Key;

/// At most this many keys are tried for a token without `kid`.
pub const MAX_KID_LESS_CANDIDATES: usize = 8;

/// A JWK of the set that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    pub kid: Option<String>,
    pub reason: String,
}

/// The usable keys of a JWKS. Immutable once built; a refresh builds a new one.
#[derive(Debug, Default)]
pub struct KeySet {
    keys: Vec<Arc<Key>>,
    /// Keys of the document that were skipped, with the reason.
    pub skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// Parse a JWKS document (`{"keys": [...]}`). Unusable keys are skipped one by one;
    /// keys identical to one in `previous` are reused (their parsed form stays warm).
    pub fn parse(body: &[u8], origin: Origin, previous: Option<&KeySet>) -> Result<KeySet> {
        let doc: Value =
            serde_json::from_slice(body).map_err(|_| Error::jwks("JWKS response is not JSON"))?;
        let Some(list) = doc.as_object().and_then(|o| o.get("keys")) else {
            return Err(Error::jwks("JWKS response has no \"keys\" member"));
        };
        let Some(list) = list.as_array() else {
            return Err(Error::jwks("JWKS \"keys\" member is not an array"));
        };
        Ok(KeySet::from_values(list, origin, previous))
    }

    /// Import each JWK of a list.
    pub fn from_values(list: &[Value], origin: Origin, previous: Option<&KeySet>) -> KeySet {
        let mut set = KeySet::default();
        for jwk in list {
            match import(jwk, origin) {
                Ok(key) => {
                    let reused = previous.and_then(|p| p.by_fingerprint(key.fingerprint));
                    set.keys.push(reused.unwrap_or_else(|| Arc::new(key)));
                }
                Err(reason) => set.skipped.push(SkippedKey {
                    kid: jwk.get("kid").and_then(Value::as_str).map(str::to_owned),
                    reason,
                }),
            }
        }
        set
    }

    fn by_fingerprint(&self, fingerprint: u64) -> Option<Arc<Key>> {
        self.keys
            .iter()
            .find(|k| k.fingerprint == fingerprint)
            .cloned()
    }

    /// True when a key with this fingerprint is in the set.
    pub fn contains(&self, fingerprint: u64) -> bool {
        self.keys.iter().any(|k| k.fingerprint == fingerprint)
    }

    /// The keys that may verify a token with `alg` and `kid`: with a kid, the keys of that kid;
    /// without, the first [`MAX_KID_LESS_CANDIDATES`] keys that fit the algorithm.
    pub fn candidates<'a>(
        &'a self,
        alg: Algorithm,
        kid: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Arc<Key>> + 'a {
        self.keys
            .iter()
            .filter(move |k| k.fits(alg) && (kid.is_none() || k.kid.as_deref() == kid))
            .take(if kid.is_some() {
                usize::MAX
            } else {
                MAX_KID_LESS_CANDIDATES
            })
    }

    /// The kids of the usable keys (keys without a kid are left out).
    pub fn kids(&self) -> Vec<String> {
        self.keys.iter().filter_map(|k| k.kid.clone()).collect()
    }

    /// True when no key is usable.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Fingerprints of the keys, for rotation reports.
    pub fn keys(&self) -> &[Arc<Key>] {
        &self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use serde_json::json;

    #[test]
    fn bad_documents_are_jwks_invalid() {
        for body in [&b"not json"[..], b"{}", b"{\"keys\":5}", b"[]", b"null"] {
            let err = KeySet::parse(body, Origin::Remote, None).unwrap_err();
            assert_eq!(
                err.code,
                ErrorCode::JwksInvalid,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }

    /// `n` fresh Ed25519 keys: their JWKs (with `kid` when given) and key pairs.
    fn ed_keys(n: usize, kid: Option<&str>) -> (Vec<Value>, Vec<Ed25519KeyPair>) {
        let pairs: Vec<Ed25519KeyPair> = (0..n)
            .map(|_| Ed25519KeyPair::generate().expect("key generation"))
            .collect();
        let jwks = pairs
            .iter()
            .map(|p| {
                let mut jwk = json!({"kty":"OKP","crv":"Ed25519",
                    "x": URL_SAFE_NO_PAD.encode(p.public_key().as_ref())});
                if let Some(kid) = kid {
                    jwk["kid"] = json!(kid);
                }
                jwk
            })
            .collect();
        (jwks, pairs)
    }

    /// True when one of the keys tried for a token with `kid` verifies `pair`'s signature.
    fn verifies(set: &KeySet, kid: Option<&str>, pair: &Ed25519KeyPair) -> bool {
        let sig = pair.sign(b"h.p");
        set.candidates(Algorithm::EdDSA, kid)
            .any(|k| k.verify(Algorithm::EdDSA, b"h.p", sig.as_ref()))
    }

    #[test]
    fn at_most_8_keys_are_tried_without_kid() {
        let (jwks, pairs) = ed_keys(10, None);
        let set = KeySet::from_values(&jwks, Origin::Remote, None);
        assert_eq!(set.keys().len(), 10);
        assert_eq!(set.candidates(Algorithm::EdDSA, None).count(), 8);
        assert!(verifies(&set, None, &pairs[0]), "1st key");
        assert!(verifies(&set, None, &pairs[7]), "8th key");
        assert!(
            !verifies(&set, None, &pairs[8]),
            "the 9th key is never tried"
        );
        assert!(!verifies(&set, None, &pairs[9]), "nor the 10th");
    }

    #[test]
    fn the_cap_counts_only_compatible_keys() {
        // 9 keys, the first 8 not usable for EdDSA (skipped or of another family): the 9th,
        // the only compatible one, is tried.
        let (mut jwks, pairs) = ed_keys(1, None);
        let mut others = vec![json!({"kty":"RSA","n":"AQAB","e":"AQAB"}); 4];
        others.extend(vec![
            json!({"kty":"oct","k":URL_SAFE_NO_PAD.encode([1u8; 32])});
            4
        ]);
        others.append(&mut jwks);
        let set = KeySet::from_values(&others, Origin::Local, None);
        assert_eq!((set.keys().len(), set.skipped.len()), (5, 4));
        assert!(verifies(&set, None, &pairs[0]));
    }

    #[test]
    fn a_kid_selects_every_key_of_that_kid() {
        let (mut jwks, pairs) = ed_keys(10, Some("same"));
        let (other, _) = ed_keys(1, Some("other"));
        jwks.extend(other);
        let set = KeySet::from_values(&jwks, Origin::Remote, None);
        assert_eq!(set.candidates(Algorithm::EdDSA, Some("same")).count(), 10);
        assert_eq!(set.candidates(Algorithm::EdDSA, Some("other")).count(), 1);
        assert_eq!(set.candidates(Algorithm::EdDSA, Some("none")).count(), 0);
        assert!(verifies(&set, Some("same"), &pairs[9]));
        assert!(!verifies(&set, Some("other"), &pairs[9]));
        assert_eq!(set.kids().len(), 11);
        for key in set.keys() {
            assert!(set.contains(key.fingerprint));
        }
        assert!(!set.contains(0));
    }

    /// The identity point, which (with `R = identity, S = 0`) "verifies" every message.
    const IDENTITY: &str = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn small_order_ed25519_key_verifies_nothing() {
        let body = format!(
            r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{IDENTITY}","kid":"id"}},
                {{"kty":"OKP","crv":"Ed25519","x":"{IDENTITY}"}}]}}"#
        );
        let set = KeySet::parse(body.as_bytes(), Origin::Remote, None).unwrap();
        assert!(set.is_empty(), "both keys are skipped");
        assert_eq!(set.skipped.len(), 2);
        assert_eq!(set.skipped[0].kid.as_deref(), Some("id"));
        assert!(set.skipped[0].reason.contains("small-order"));
        let forged = {
            let mut sig = vec![0u8; 64];
            sig[0] = 1; // R = identity, S = 0
            sig
        };
        for kid in [Some("id"), None] {
            assert!(
                !set.candidates(Algorithm::EdDSA, kid).any(|k| k.verify(
                    Algorithm::EdDSA,
                    b"h.p",
                    &forged
                )),
                "{kid:?}"
            );
        }
    }

    #[test]
    fn unusable_keys_do_not_spoil_the_set() {
        let body = br#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","kid":"small"},
            {"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"ed"}]}"#;
        let set = KeySet::parse(body, Origin::Remote, None).unwrap();
        assert_eq!(set.kids(), ["ed"]);
        assert!(!set.is_empty());
        assert_eq!(set.skipped.len(), 1);
        assert_eq!(set.skipped[0].kid.as_deref(), Some("small"));
        assert_eq!(set.candidates(Algorithm::EdDSA, Some("small")).count(), 0);
        assert_eq!(set.candidates(Algorithm::EdDSA, None).count(), 1);
        assert_eq!(set.candidates(Algorithm::RS256, None).count(), 0);
        let again = KeySet::parse(body, Origin::Remote, Some(&set)).unwrap();
        assert!(
            Arc::ptr_eq(&again.keys()[0], &set.keys()[0]),
            "identical keys are reused"
        );
    }
}
