//! Entries of the shared tier, sealed so that Redis is a hint and never the authority: each
//! value carries an HMAC over its own Redis key and its payload (an entry cannot be forged,
//! altered, or moved to another key without the `secret`), and secret payloads (client
//! credentials tokens) are encrypted with AES-256-GCM. Keys for both are derived from `secret`.
//!
//! Format: `j1.<base64url mac>.<payload>`; an encrypted payload is `base64url(nonce ‖ ciphertext)`.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;

const VERSION: &str = "j1";

/// The keys derived from the `shared.secret`.
pub struct Keys {
    mac: hmac::Key,
    name: hmac::Key,
    enc: LessSafeKey,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(hidden)")
    }
}

/// Why an entry was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not of our format (garbage, another version).
    Malformed,
    /// The MAC does not match: tampered, moved, or made with another secret.
    BadMac,
    /// An encrypted payload that does not decrypt.
    Undecryptable,
}

impl Keys {
    /// Derive the keys from `secret` (at least 32 bytes, checked by the options).
    pub fn derive(secret: &[u8]) -> Result<Keys, crate::Error> {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let derive = |label: &str| hmac::sign(&root, label.as_bytes());
        let mac = derive("jwks-verify shared tier v1: entry mac");
        let name = derive("jwks-verify shared tier v1: key names");
        let enc = derive("jwks-verify shared tier v1: encryption");
        let enc = UnboundKey::new(&AES_256_GCM, enc.as_ref())
            .map(LessSafeKey::new)
            .map_err(|_| {
                crate::Error::options("shared.secret", "could not derive an encryption key")
            })?;
        Ok(Keys {
            mac: hmac::Key::new(hmac::HMAC_SHA256, mac.as_ref()),
            name: hmac::Key::new(hmac::HMAC_SHA256, name.as_ref()),
            enc,
        })
    }

    /// A name for `id` (a URL, a token, …) that reveals nothing of it: hex of an HMAC.
    pub fn name(&self, id: &[u8]) -> String {
        let tag = hmac::sign(&self.name, id);
        tag.as_ref()[..20]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Seal `payload` for the Redis key `key`.
    pub fn seal(&self, key: &str, payload: &[u8]) -> Vec<u8> {
        let tag = self.tag(key, payload);
        let mut out = format!("{VERSION}.{}.", B64.encode(tag)).into_bytes();
        out.extend_from_slice(payload);
        out
    }

    /// The payload of a sealed value read from `key`, if its MAC holds.
    pub fn open(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, Refused> {
        let rest = value
            .strip_prefix(VERSION.as_bytes())
            .and_then(|r| r.strip_prefix(b"."))
            .ok_or(Refused::Malformed)?;
        let dot = rest
            .iter()
            .position(|b| *b == b'.')
            .ok_or(Refused::Malformed)?;
        let tag = B64.decode(&rest[..dot]).map_err(|_| Refused::Malformed)?;
        let payload = &rest[dot + 1..];
        hmac::verify(&self.mac, &message(key, payload), &tag).map_err(|_| Refused::BadMac)?;
        Ok(payload.to_vec())
    }

    /// Encrypt `plain` (the Redis key is the associated data) and seal it.
    pub fn seal_secret(&self, key: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        if SystemRandom::new().fill(&mut nonce).is_err() {
            return Vec::new(); // never written: `open_secret` refuses an empty value
        }
        let mut data = plain.to_vec();
        if self
            .enc
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.as_bytes()),
                &mut data,
            )
            .is_err()
        {
            return Vec::new();
        }
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&data);
        self.seal(key, B64.encode(blob).as_bytes())
    }

    /// The plaintext of a sealed, encrypted value read from `key`.
    pub fn open_secret(&self, key: &str, value: &[u8]) -> Result<Vec<u8>, Refused> {
        let payload = self.open(key, value)?;
        let blob = B64.decode(&payload).map_err(|_| Refused::Malformed)?;
        if blob.len() < NONCE_LEN {
            return Err(Refused::Malformed);
        }
        let (nonce, sealed) = blob.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Refused::Malformed)?;
        let mut data = sealed.to_vec();
        let plain = self
            .enc
            .open_in_place(nonce, Aad::from(key.as_bytes()), &mut data)
            .map_err(|_| Refused::Undecryptable)?;
        Ok(plain.to_vec())
    }

    fn tag(&self, key: &str, payload: &[u8]) -> hmac::Tag {
        hmac::sign(&self.mac, &message(key, payload))
    }
}

/// What the MAC covers: the key name, a separator, the payload.
fn message(key: &str, payload: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(key.len() + 1 + payload.len());
    m.extend_from_slice(key.as_bytes());
    m.push(0);
    m.extend_from_slice(payload);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_entries_open_only_where_and_as_they_were_written() {
        let k = Keys::derive(&[7u8; 32]).unwrap();
        let v = k.seal("p:jwks:a", br#"{"keys":[]}"#);
        assert_eq!(k.open("p:jwks:a", &v).unwrap(), br#"{"keys":[]}"#);
        assert_eq!(
            k.open("p:jwks:b", &v),
            Err(Refused::BadMac),
            "moved to another key"
        );
        let mut tampered = v.clone();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        assert_eq!(k.open("p:jwks:a", &tampered), Err(Refused::BadMac));
        assert_eq!(
            Keys::derive(&[8u8; 32]).unwrap().open("p:jwks:a", &v),
            Err(Refused::BadMac),
            "another secret"
        );
        for garbage in [&b""[..], b"garbage", b"j1.", b"j1.!!!.x", b"j2.AAAA.x"] {
            assert!(k.open("p:jwks:a", garbage).is_err(), "{garbage:?}");
        }
    }

    #[test]
    fn secrets_are_encrypted_and_bound_to_their_key() {
        let k = Keys::derive(b"0123456789abcdef0123456789abcdef").unwrap();
        let v = k.seal_secret("p:token:x", b"the-access-token");
        assert!(!String::from_utf8_lossy(&v).contains("the-access-token"));
        assert_eq!(k.open_secret("p:token:x", &v).unwrap(), b"the-access-token");
        assert!(k.open_secret("p:token:y", &v).is_err());
        assert_ne!(
            k.seal_secret("p:token:x", b"same"),
            k.seal_secret("p:token:x", b"same"),
            "fresh nonce"
        );
    }

    #[test]
    fn names_hide_what_they_name() {
        let k = Keys::derive(&[1u8; 32]).unwrap();
        let n = k.name(b"eyJhbGciOi.token");
        assert_eq!(n.len(), 40);
        assert!(!n.contains("eyJ"));
        assert_eq!(n, k.name(b"eyJhbGciOi.token"));
        assert_ne!(
            n,
            Keys::derive(&[2u8; 32]).unwrap().name(b"eyJhbGciOi.token")
        );
    }
}
