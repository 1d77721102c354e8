//! Copies of results kept outside the engine (the JS face's `results: 'frozen'`):
//! `Verifier::result_cache_until` says how long a copy may serve, `Verifier::reuse` whether it
//! still may and counts the use as a token-cache hit. Local keys (HS256), the system clock.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use jwks_verify_core::clock::Clock;
use jwks_verify_core::options::{self, SecretBytes};
use jwks_verify_core::verifier::Verifier;
use serde_json::{json, Value};

const SECRET: &[u8] = b"a shared secret of at least 32 bytes!!";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn now_s() -> u64 {
    now_ms() / 1000
}

fn verifier(extra: Value) -> Verifier {
    let mut value = json!({"algorithms":["HS256"],"cache":{"maxAge":60}});
    if let (Some(o), Value::Object(more)) = (value.as_object_mut(), extra) {
        o.extend(more);
    }
    let options = options::parse(&value, SecretBytes::Bytes(SECRET.to_vec())).expect("options");
    Verifier::new(options, None).expect("verifier")
}

fn token(claims: Value) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET),
    )
    .expect("sign")
}

#[test]
fn the_end_of_a_copy_is_the_first_limit_to_pass() {
    // exp first: the copy ends at exp (it is before `cache.maxAge` after the verification).
    let v = verifier(json!({}));
    let exp = now_s() + 30;
    let t = token(json!({"sub":"u","exp":exp}));
    v.verify_sync(t.as_str()).expect("verifies");
    let (until, _) = v.result_cache_until(&t);
    assert_eq!(until, exp * 1000, "exp");

    // maxTokenAge first: the first millisecond at which the token is older than 20 s.
    let v = verifier(json!({"maxTokenAge":20}));
    let iat = now_s() - 5;
    let t = token(json!({"sub":"u","iat":iat,"exp":iat + 3600}));
    v.verify_sync(t.as_str()).expect("verifies");
    assert_eq!(
        v.result_cache_until(&t).0,
        (iat + 20) * 1000 + 1,
        "maxTokenAge"
    );

    // No time claim: the token cache entry's own end, `cache.maxAge` after it was made.
    let v = verifier(json!({"requiredClaims":[]}));
    let t = token(json!({"sub":"u"}));
    let before = now_ms();
    v.verify_sync(t.as_str()).expect("verifies");
    let after = now_ms();
    let until = v.result_cache_until(&t).0;
    assert!(
        (before + 60_000..=after + 60_000).contains(&until),
        "cache.maxAge: {until} in {before}+60 s..{after}+60 s"
    );
}

#[test]
fn no_copy_without_an_entry_after_close_or_with_a_test_clock() {
    let claims = json!({"sub":"u","exp":now_s() + 600});
    let v = verifier(json!({}));
    let t = token(claims.clone());
    assert_eq!(v.result_cache_until(&t).0, 0, "not verified yet");
    assert!(v.verify_sync("not.a.token").is_err());
    assert_eq!(v.result_cache_until("not.a.token").0, 0, "a refusal");

    let off = verifier(json!({"tokenCache":false}));
    off.verify_sync(t.as_str()).expect("verifies");
    assert_eq!(off.result_cache_until(&t).0, 0, "tokenCache: false");

    let mut options = options::parse(
        &json!({"algorithms":["HS256"]}),
        SecretBytes::Bytes(SECRET.to_vec()),
    )
    .expect("options");
    options.clock = Clock::manual();
    let manual = Verifier::new(options, None).expect("verifier");
    manual.verify_sync(t.as_str()).expect("verifies");
    assert_eq!(manual.result_cache_until(&t).0, 0, "a test clock");

    v.verify_sync(t.as_str()).expect("verifies");
    let (until, generation) = v.result_cache_until(&t);
    assert!(until > now_ms());
    v.close();
    assert_eq!(v.result_cache_until(&t).0, 0, "closed");
    assert!(!v.reuse(generation), "closed: no reuse");
}

#[test]
fn reuse_counts_as_a_token_cache_hit_while_the_generation_holds() {
    let v = verifier(json!({}));
    let t = token(json!({"sub":"u","exp":now_s() + 600}));
    v.verify_sync(t.as_str()).expect("verifies");
    let (_, generation) = v.result_cache_until(&t);
    let before = v.stats();
    assert_eq!((before.verifications, before.token_cache_hits), (1, 0));
    assert!(v.reuse(generation));
    assert!(v.reuse(generation));
    let after = v.stats();
    assert_eq!((after.verifications, after.token_cache_hits), (3, 2));
    assert!(!v.reuse(generation.wrapping_add(1)), "another generation");
    let last = v.stats();
    assert_eq!(
        (last.verifications, last.token_cache_hits),
        (3, 2),
        "not counted"
    );
    assert!(last.failures.is_empty());
}
