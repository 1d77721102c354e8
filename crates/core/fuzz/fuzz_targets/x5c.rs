//! Certificates and SPKI: the input is a DER certificate (put in `x5c` of RSA, EC and OKP
//! JWKs) and, at the same time, a DER SubjectPublicKeyInfo.
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jwks_verify_core::algorithm::Family;
use jwks_verify_core::jwk::{import, material_from_spki, Origin};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    let _ = material_from_spki(data);
    let cert = STANDARD.encode(data);
    for (kty, crv, families) in [
        ("RSA", None, &[Family::Rsa][..]),
        (
            "EC",
            None,
            &[Family::EcP256, Family::EcP384, Family::EcP521][..],
        ),
        ("EC", Some("P-521"), &[Family::EcP521][..]),
        ("OKP", None, &[Family::Ed25519][..]),
        ("EC", Some("P-384"), &[Family::EcP384][..]),
        ("OKP", Some("Ed25519"), &[Family::Ed25519][..]),
    ] {
        let mut jwk = json!({ "kty": kty, "x5c": [cert] });
        if let Some(crv) = crv {
            jwk["crv"] = json!(crv);
        }
        if let Ok(key) = import(&jwk, Origin::Remote) {
            assert!(
                families.contains(&key.material.family()),
                "{kty} {crv:?} JWK took a {:?} certificate",
                key.material.family()
            );
        }
    }
});
