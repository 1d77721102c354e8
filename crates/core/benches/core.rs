//! Criterion benchmarks of the engine: parsing, claims, signature checks per algorithm, and
//! whole verifications through a `Verifier` with a local key set (with and without the token cache).

use std::hint::black_box;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, Criterion};
use jwks_verify_core::claims::{self, ClaimRules};
use jwks_verify_core::options::{self, SecretBytes};
use jwks_verify_core::token;
use jwks_verify_core::verifier::{Step, Verifier};
use serde_json::{json, Value};

/// Signs a message with a freshly generated key.
type SignFn = Box<dyn Fn(&[u8]) -> Vec<u8>>;

struct Signer {
    alg: &'static str,
    jwk: Value,
    sign: SignFn,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signers() -> Vec<Signer> {
    let rng = SystemRandom::new();
    let rsa =
        std::sync::Arc::new(aws_lc_rs::rsa::KeyPair::generate(KeySize::Rsa2048).expect("rsa key"));
    let public = rsa.public_key();
    let n = public.modulus().big_endian_without_leading_zero().to_vec();
    let e = public.exponent().big_endian_without_leading_zero().to_vec();
    let rsa_jwk = |alg: &str| json!({"kty":"RSA","kid":alg,"alg":alg,"n":b64(&n),"e":b64(&e)});
    let rsa_signer = |alg: &'static str, padding: &'static dyn signature::RsaEncoding| {
        let key = std::sync::Arc::clone(&rsa);
        Signer {
            alg,
            jwk: rsa_jwk(alg),
            sign: Box::new(move |m| {
                let mut sig = vec![0; key.public_modulus_len()];
                key.sign(padding, &SystemRandom::new(), m, &mut sig)
                    .expect("rsa sign");
                sig
            }),
        }
    };
    let ec = |alg: &'static str,
              curve: &str,
              size: usize,
              s: &'static signature::EcdsaSigningAlgorithm| {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(s, &rng).expect("ec key");
        let key = EcdsaKeyPair::from_pkcs8(s, pkcs8.as_ref()).expect("ec key");
        let point = key.public_key().as_ref().to_vec();
        let jwk = json!({"kty":"EC","kid":alg,"alg":alg,"crv":curve,"x":b64(&point[1..1 + size]),"y":b64(&point[1 + size..])});
        Signer {
            alg,
            jwk,
            sign: Box::new(move |m| {
                key.sign(&SystemRandom::new(), m)
                    .expect("ec sign")
                    .as_ref()
                    .to_vec()
            }),
        }
    };
    let ed_pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("ed key");
    let ed = Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).expect("ed key");
    let ed_jwk = json!({"kty":"OKP","kid":"EdDSA","alg":"EdDSA","crv":"Ed25519","x":b64(ed.public_key().as_ref())});
    let secret = [7u8; 32];
    vec![
        rsa_signer("RS256", &signature::RSA_PKCS1_SHA256),
        rsa_signer("PS256", &signature::RSA_PSS_SHA256),
        ec(
            "ES256",
            "P-256",
            32,
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        ),
        ec(
            "ES384",
            "P-384",
            48,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
        ),
        Signer {
            alg: "EdDSA",
            jwk: ed_jwk,
            sign: Box::new(move |m| ed.sign(m).as_ref().to_vec()),
        },
        Signer {
            alg: "HS256",
            jwk: json!({"kty":"oct","kid":"HS256","alg":"HS256","k":b64(&secret)}),
            sign: Box::new(move |m| {
                aws_lc_rs::hmac::sign(
                    &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &secret),
                    m,
                )
                .as_ref()
                .to_vec()
            }),
        },
    ]
}

fn token(s: &Signer, payload: &Value) -> String {
    let header = json!({"alg": s.alg, "kid": s.alg, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(payload.to_string().as_bytes())
    );
    let sig = (s.sign)(input.as_bytes());
    format!("{input}.{}", b64(&sig))
}

fn payload(i: u64) -> Value {
    json!({"iss":"https://issuer.example","sub":format!("user-{i}"),"aud":"api","iat":1_700_000_000u64,
           "exp":4_000_000_000u64,"scope":"read write","jti":format!("{i:016x}")})
}

fn bench(c: &mut Criterion) {
    let signers = signers();
    let keys: Vec<Value> = signers.iter().map(|s| s.jwk.clone()).collect();
    let sample = token(&signers[0], &payload(0));

    c.bench_function("parse", |b| {
        b.iter(|| token::parse(black_box(&sample), 16_384).map(|t| t.signing_len))
    });
    let parsed = token::parse(&sample, 16_384).expect("parse");
    let rules = ClaimRules {
        audience: Some(vec!["api".into()]),
        required: vec!["exp".into()],
        ..ClaimRules::default()
    };
    c.bench_function("claims", |b| {
        b.iter(|| {
            claims::check(
                &parsed.header.typ,
                black_box(&parsed.claims),
                &rules,
                1_800_000_000.0,
            )
        })
    });

    let make = |token_cache: bool| {
        let algorithms: Vec<&str> = signers.iter().map(|s| s.alg).collect();
        let value = json!({"issuer":"https://issuer.example","audience":"api","keys":{"keys":keys},
                           "algorithms":algorithms,"tokenCache": if token_cache { json!(10_000) } else { json!(false) }});
        Verifier::new(
            options::parse(&value, SecretBytes::None).expect("options"),
            None,
        )
        .expect("verifier")
    };
    let uncached = make(false);
    for s in &signers {
        let tokens: Vec<String> = (0..64).map(|i| token(s, &payload(i))).collect();
        let mut i = 0;
        c.bench_function(&format!("verify {} (no token cache)", s.alg), |b| {
            b.iter(|| {
                i = (i + 1) % tokens.len();
                match uncached.begin(black_box(tokens[i].clone())) {
                    Ok(Step::Compute(job)) => job.run().map(|v| v.payload_json().len()),
                    _ => panic!("{}: expected a compute step", s.alg),
                }
            })
        });
    }
    let cached = make(true);
    let hit = token(&signers[0], &payload(1));
    let _ = cached.verify_sync(&hit).expect("first verification");
    c.bench_function("verify RS256 (token-cache hit)", |b| {
        b.iter(|| match cached.begin(black_box(hit.clone())) {
            Ok(Step::Done(v)) => v.payload_json().len(),
            _ => panic!("expected a token-cache hit"),
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
