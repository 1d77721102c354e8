//! Tokens signed by an independent implementation (the `jsonwebtoken` crate) verify here, and
//! the same tokens with one byte changed do not.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{encode, Algorithm as JwtAlg, EncodingKey, Header};
use jwks_verify_core::options::{self, SecretBytes};
use jwks_verify_core::verifier::Verifier;
use jwks_verify_core::ErrorCode;
use serde_json::{json, Value};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn verifier(jwk: Value, alg: &str) -> Verifier {
    let value = json!({"issuer":"https://issuer.example","audience":"api","algorithms":[alg],"keys":{"keys":[jwk]}});
    Verifier::new(
        options::parse(&value, SecretBytes::None).expect("options"),
        None,
    )
    .expect("verifier")
}

fn claims() -> Value {
    json!({"iss":"https://issuer.example","aud":"api","sub":"u1","exp":4_000_000_000u64})
}

fn check(v: &Verifier, token: &str, label: &str) {
    let ok = v
        .verify_sync(token)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    assert!(
        ok.payload_json().contains("\"sub\":\"u1\""),
        "{label}: {}",
        ok.payload_json()
    );
    let mut tampered = token.as_bytes().to_vec();
    let at = token.rfind('.').expect("three parts") + 3;
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    let err = v
        .verify_sync(std::str::from_utf8(&tampered).expect("ascii"))
        .expect_err(label);
    assert_eq!(
        err.code,
        ErrorCode::SignatureVerificationFailed,
        "{label}: {err}"
    );
}

#[test]
fn es256_es384() {
    let rng = SystemRandom::new();
    for (alg, name, curve, size, signing) in [
        (
            JwtAlg::ES256,
            "ES256",
            "P-256",
            32,
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ),
        (
            JwtAlg::ES384,
            "ES384",
            "P-384",
            48,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        ),
    ] {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).expect("key");
        let point = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref())
            .expect("key")
            .public_key()
            .as_ref()
            .to_vec();
        let jwk = json!({"kty":"EC","crv":curve,"kid":"k","x":b64(&point[1..1 + size]),"y":b64(&point[1 + size..])});
        let mut header = Header::new(alg);
        header.kid = Some("k".into());
        let token = encode(
            &header,
            &claims(),
            &EncodingKey::from_ec_der(pkcs8.as_ref()),
        )
        .expect("sign");
        check(&verifier(jwk, name), &token, name);
    }
}

#[test]
fn eddsa() {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).expect("key");
    let public = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .expect("key")
        .public_key()
        .as_ref()
        .to_vec();
    let jwk = json!({"kty":"OKP","crv":"Ed25519","x":b64(&public)});
    let token = encode(
        &Header::new(JwtAlg::EdDSA),
        &claims(),
        &EncodingKey::from_ed_der(pkcs8.as_ref()),
    )
    .expect("sign");
    check(&verifier(jwk, "EdDSA"), &token, "EdDSA");
}

#[test]
fn hs256() {
    let secret = b"a shared secret of at least 32 bytes!!";
    let jwk = json!({"kty":"oct","k":b64(secret)});
    let token = encode(
        &Header::new(JwtAlg::HS256),
        &claims(),
        &EncodingKey::from_secret(secret),
    )
    .expect("sign");
    check(&verifier(jwk, "HS256"), &token, "HS256");
}
