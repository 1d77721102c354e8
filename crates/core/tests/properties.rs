//! Property tests: the parsers never panic, and accept exactly what a simple, independent
//! reference accepts (serde_json's `Value` plus a naive duplicate check for the JSON reader; a
//! hand-written strict base64url decoder for token parts; the JWK rules spelled out one by one;
//! a grammar check for duration strings). Case counts stay small so `cargo test` stays fast.

use std::fmt;
use std::sync::OnceLock;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jwks_verify_core::algorithm::{Algorithm, Family};
use jwks_verify_core::duration::{self, DurationError, MAX_MS};
use jwks_verify_core::json::{object_members, ObjectError, MAX_DEPTH};
use jwks_verify_core::jwk::{import, Origin};
use jwks_verify_core::key::Material;
use jwks_verify_core::keyset::KeySet;
use jwks_verify_core::token::{self, MAX_HEADER_MEMBERS, MAX_PAYLOAD_MEMBERS};
use jwks_verify_core::ErrorCode;
use proptest::prelude::*;
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::{json, Map, Value};

/// `cases` per property, or `PROPTEST_CASES` from the environment for a longer run.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------- the reference JSON reader

/// The top-level member names of an object, duplicates kept (serde's `Value` drops them).
struct Names(Vec<String>);

impl<'de> Deserialize<'de> for Names {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Names;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Names, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    map.next_value::<IgnoredAny>()?;
                    names.push(name);
                }
                Ok(names.into())
            }
        }
        d.deserialize_map(V)
    }
}

impl From<Vec<String>> for Names {
    fn from(v: Vec<String>) -> Self {
        Names(v)
    }
}

/// Containers nested in a value (the top-level object counts as 1).
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// What the strict reader must accept: a JSON object, no top-level name twice (compared
/// naively, each with all others), at most `max_members` of them, nesting at most 64.
fn reference_accepts(text: &str, max_members: usize) -> bool {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    if !value.is_object() || depth(&value) > MAX_DEPTH {
        return false;
    }
    let Ok(Names(names)) = serde_json::from_str::<Names>(text) else {
        return false;
    };
    let distinct = names
        .iter()
        .enumerate()
        .all(|(i, a)| names[..i].iter().all(|b| a != b));
    distinct && names.len() <= max_members
}

/// True for valid JSON that serde's `Value` refuses only for a number out of `f64` range.
fn beyond_f64(text: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(text).is_ok() && serde_json::from_str::<Value>(text).is_err()
}

/// Any JSON value, a few levels deep, with names drawn from a small set (so duplicates
/// and brackets inside strings happen).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e6f64..1e6).prop_map(|f| json!(f)),
        "[a-c\\[\\]{}\"\\\\ ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-d]{0,2}", inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// JSON object texts, valid or nearly: members written out by hand so names may repeat;
/// sometimes nested deep, sometimes cut or with a stray character.
fn object_text() -> impl Strategy<Value = String> {
    let members = prop::collection::vec(("[a-d]{0,2}", json_value()), 0..8);
    (
        members,
        0usize..80,
        0usize..6,
        any::<u8>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(members, nesting, edit, byte, at)| {
            let body: Vec<String> = members
                .iter()
                .map(|(name, value)| format!("{}:{value}", json!(name)))
                .collect();
            let mut text = if nesting > 60 {
                // Deep nesting around the boundary, brackets in strings on the way.
                format!(
                    "{{\"deep\":{}0{}}}",
                    "[\"]}\",".repeat(nesting),
                    "]".repeat(nesting)
                )
            } else {
                format!("{{{}}}", body.join(","))
            };
            match edit {
                0 => text.truncate(at.index(text.len() + 1)),
                1 => text.insert(at.index(text.len() + 1), char::from(byte % 128)),
                2 => text = format!(" \n{text}\t"),
                _ => {}
            }
            text
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn json_reader_never_panics(text in any::<String>()) {
        let _ = object_members(&text, 64);
    }

    #[test]
    fn json_reader_agrees_with_the_reference(text in object_text(), limit in 0usize..10) {
        // Numbers beyond f64 (`1e309`) are valid JSON text that `Value` cannot hold; the reader
        // accepts them, as JSON.parse does (the time claims refuse them: see token.rs).
        prop_assume!(!beyond_f64(&text));
        let ours = object_members(&text, limit);
        prop_assert_eq!(
            ours.is_ok(),
            reference_accepts(&text, limit),
            "{:?} -> {:?}",
            text,
            ours
        );
        if let Ok(members) = ours {
            let Names(names) = serde_json::from_str::<Names>(&text).expect("reference names");
            let ours: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
            prop_assert_eq!(ours, names.iter().map(String::as_str).collect::<Vec<_>>());
            for (name, raw) in &members {
                let value: Value = serde_json::from_str(raw.get()).expect("raw member");
                let whole: Value = serde_json::from_str(&text).expect("whole");
                prop_assert_eq!(&whole[name.as_str()], &value);
            }
        }
    }

    #[test]
    fn json_reader_reasons(text in object_text()) {
        prop_assume!(!beyond_f64(&text));
        // A refusal names the right reason when the reference can tell.
        if let Err(e) = object_members(&text, usize::MAX) {
            match serde_json::from_str::<Value>(&text) {
                Err(_) => prop_assert!(matches!(e, ObjectError::Syntax | ObjectError::TooDeep)),
                Ok(v) if !v.is_object() => prop_assert!(matches!(e, ObjectError::NotObject | ObjectError::TooDeep)),
                Ok(v) if depth(&v) > MAX_DEPTH => prop_assert_eq!(e, ObjectError::TooDeep),
                Ok(_) => prop_assert!(matches!(e, ObjectError::Duplicate(_)), "{:?}", e),
            }
        }
    }
}

// ---------------------------------------------------------------- tokens

/// Strict base64url: the alphabet, no padding, a length that is not 1 mod 4, unused trailing
/// bits zero. Written out bit by bit, independent of the `base64` crate.
fn reference_b64url(part: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in part.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    (part.len() % 4 != 1 && bits == 0).then_some(out)
}

/// What `token::parse` must accept among tokens without `crit`: the length limit, three
/// strict base64url parts, UTF-8 JSON objects (reference reader) within the member limits,
/// a string `kid` when there is one. `None` when the reference cannot tell (`1e309`).
fn reference_token(token: &str, max_len: usize) -> Option<Result<(), ErrorCode>> {
    let undecidable = |b: &[u8]| std::str::from_utf8(b).is_ok_and(beyond_f64);
    let parts: Vec<Option<Vec<u8>>> = token.split('.').map(reference_b64url).collect();
    if parts.iter().flatten().any(|p| undecidable(p)) {
        return None;
    }
    Some(reference_shape(token, max_len))
}

fn reference_shape(token: &str, max_len: usize) -> Result<(), ErrorCode> {
    let jws = Err(ErrorCode::JwsInvalid);
    if token.len() > max_len || token.is_empty() {
        return jws;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let [h, p, s] = parts[..] else { return jws };
    let (Some(h), Some(p), Some(_)) = (
        reference_b64url(h),
        reference_b64url(p),
        reference_b64url(s),
    ) else {
        return jws;
    };
    let Ok(h) = String::from_utf8(h) else {
        return jws;
    };
    if !reference_accepts(&h, MAX_HEADER_MEMBERS) {
        return jws;
    }
    let header: Value = serde_json::from_str(&h).expect("reference accepted it");
    if header.get("kid").is_some_and(|k| !k.is_string()) {
        return jws;
    }
    let jwt = Err(ErrorCode::JwtInvalid);
    let Ok(p) = String::from_utf8(p) else {
        return jwt;
    };
    if !reference_accepts(&p, MAX_PAYLOAD_MEMBERS) {
        return jwt;
    }
    Ok(())
}

/// A header or payload object as text, sometimes with a duplicate name or a non-string kid.
fn token_json() -> impl Strategy<Value = String> {
    let kid_value = prop_oneof![
        "[a-z0-9]{0,8}".prop_map(Value::String),
        Just(json!(5)),
        Just(Value::Null),
    ];
    (
        prop::collection::vec(("(alg|typ|b64|x|y|iat|exp|aud)", json_value()), 0..5),
        prop::option::weighted(0.4, kid_value),
    )
        .prop_map(|(members, kid)| {
            let mut parts: Vec<String> = members
                .into_iter()
                .map(|(name, value)| format!("{}:{value}", json!(name)))
                .collect();
            if let Some(kid) = kid {
                parts.push(format!("\"kid\":{kid}"));
            }
            format!("{{{}}}", parts.join(","))
        })
}

/// Compact tokens: well-formed ones, and ones with one character changed, added or cut.
fn token_text() -> impl Strategy<Value = String> {
    (
        token_json(),
        token_json(),
        prop::collection::vec(any::<u8>(), 0..80),
        0usize..8,
        any::<prop::sample::Index>(),
        prop::sample::select(vec![
            '=', '.', '+', '/', ' ', 'A', 'B', 'Q', '_', '-', '\n', 'é',
        ]),
    )
        .prop_map(|(h, p, sig, edit, at, c)| {
            let mut t = format!(
                "{}.{}.{}",
                URL_SAFE_NO_PAD.encode(h),
                URL_SAFE_NO_PAD.encode(p),
                URL_SAFE_NO_PAD.encode(sig)
            );
            let i = at.index(t.len() + 1);
            let i = (0..=i).rev().find(|i| t.is_char_boundary(*i)).unwrap_or(0);
            match edit {
                0 => t.insert(i, c),
                1 if i < t.len() => {
                    t.remove(i);
                }
                2 => t.truncate(i),
                3 => t = format!("Bearer {t}"),
                _ => {}
            }
            t
        })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn token_parser_never_panics(text in any::<String>(), max in 0usize..20000) {
        let _ = token::parse(&text, max);
    }

    #[test]
    fn token_parser_never_panics_on_near_tokens(text in "[A-Za-z0-9_=.+/-]{0,120}") {
        let _ = token::parse(&text, 16384);
    }

    #[test]
    fn token_parser_agrees_with_the_reference(token in token_text(), max in 60usize..400) {
        let ours = token::parse(&token, max);
        let want = reference_token(&token, max);
        prop_assume!(want.is_some());
        let want = want.expect("decidable");
        prop_assert_eq!(ours.as_ref().map(|_| ()).map_err(|e| e.code), want, "{:?}: {:?}", token, ours.err());
        if let Ok(t) = ours {
            let last_dot = token.rfind('.').expect("three parts");
            prop_assert_eq!(t.signing_len, last_dot);
            prop_assert_eq!(Some(t.signature), reference_b64url(&token[last_dot + 1..]));
        }
    }
}

// ---------------------------------------------------------------- JWKs

/// Real public keys, made once: `(RSA n, RSA e, EC P-256 x, y, Ed25519 x)`, base64url.
fn real_keys() -> &'static [String; 5] {
    static KEYS: OnceLock<[String; 5]> = OnceLock::new();
    KEYS.get_or_init(|| {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{
            EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
        };
        let rsa = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("rsa");
        let n = rsa
            .public_key()
            .modulus()
            .big_endian_without_leading_zero()
            .to_vec();
        let e = rsa
            .public_key()
            .exponent()
            .big_endian_without_leading_zero()
            .to_vec();
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("ec");
        let ec =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).expect("ec");
        let point = ec.public_key().as_ref();
        let ed = Ed25519KeyPair::generate().expect("ed");
        [
            n,
            e,
            point[1..33].to_vec(),
            point[33..].to_vec(),
            ed.public_key().as_ref().to_vec(),
        ]
        .map(|b| URL_SAFE_NO_PAD.encode(b))
    })
}

const EC_CERT: &str = include_str!("fixtures/ec-p256.cert.b64");
const ED_CERT: &str = include_str!("fixtures/ed25519.cert.b64");
const EC521_CERT: &str = include_str!("fixtures/ec-p521.cert.b64");

/// The Ed25519 encodings of small-order points (sign bit clear; each also with it set),
/// as listed by libsodium and "Taming the many EdDSAs".
const SMALL_ORDER: [&str; 7] = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
    "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];

fn small_order(x: &[u8]) -> bool {
    let mut x = x.to_vec();
    if let Some(last) = x.last_mut() {
        *last &= 0x7f;
    }
    SMALL_ORDER
        .iter()
        .any(|h| hex::decode(h).ok() == Some(x.clone()))
}

/// Values for a JWK member: real key material, short or long random bytes, small-order
/// points, certificates, wrong types.
fn member_value() -> impl Strategy<Value = Value> {
    let real = (0usize..5).prop_map(|i| Value::String(real_keys()[i].clone()));
    let bytes = prop::collection::vec(any::<u8>(), 0..70)
        .prop_map(|b| Value::String(URL_SAFE_NO_PAD.encode(b)));
    let small = (0usize..7, any::<bool>()).prop_map(|(i, negative)| {
        let mut x = hex::decode(SMALL_ORDER[i]).expect("hex");
        x[31] |= u8::from(negative) << 7;
        Value::String(URL_SAFE_NO_PAD.encode(x))
    });
    prop_oneof![
        3 => real,
        2 => bytes,
        2 => small,
        1 => Just(json!([EC_CERT])),
        1 => Just(json!([ED_CERT])),
        1 => Just(json!([EC521_CERT])),
        1 => Just(json!(["AAAA"])),
        1 => Just(Value::String(STANDARD.encode([0xfbu8; 33]))),
        1 => Just(json!(5)),
        1 => Just(json!(null)),
    ]
}

/// JWK objects assembled from plausible and implausible members.
fn jwk() -> impl Strategy<Value = Value> {
    let kty = prop::sample::select(vec![
        json!("RSA"),
        json!("EC"),
        json!("OKP"),
        json!("oct"),
        json!("XYZ"),
        json!(1),
    ]);
    let crv = prop::sample::select(vec![
        json!("P-256"),
        json!("P-384"),
        json!("P-521"),
        json!("Ed25519"),
        json!("X25519"),
        json!(7),
    ]);
    let alg = prop::sample::select(vec![
        json!("RS256"),
        json!("ES256"),
        json!("ES384"),
        json!("ES512"),
        json!("EdDSA"),
        json!("Ed25519"),
        json!("HS256"),
        json!("HS512"),
        json!("none"),
        json!(0),
    ]);
    let usage = prop::sample::select(vec![json!("sig"), json!("enc"), json!(["sig"])]);
    let ops = prop::sample::select(vec![
        json!(["verify"]),
        json!(["sign"]),
        json!([]),
        json!("verify"),
    ]);
    let names = prop::sample::select(vec!["n", "e", "x", "y", "k", "x5c"]);
    (
        kty,
        prop::option::of(crv),
        prop::option::weighted(0.3, alg),
        prop::option::weighted(0.2, usage),
        prop::option::weighted(0.2, ops),
        prop::collection::vec((names, member_value()), 0..5),
    )
        .prop_map(|(kty, crv, alg, usage, ops, members)| {
            let mut jwk = Map::new();
            jwk.insert("kty".into(), kty);
            for (name, value) in [("crv", crv), ("alg", alg), ("use", usage), ("key_ops", ops)] {
                if let Some(value) = value {
                    jwk.insert(name.into(), value);
                }
            }
            for (name, value) in members {
                jwk.insert(name.into(), value);
            }
            Value::Object(jwk)
        })
}

/// The rules an imported key must satisfy, checked on the JWK and the key.
fn check_rules(jwk: &Value, origin: Origin) -> Result<(), TestCaseError> {
    let Ok(key) = import(jwk, origin) else {
        return Ok(());
    };
    let family = key.material.family();
    let kty = jwk["kty"].as_str().unwrap_or("");
    let want = match kty {
        "RSA" => matches!(family, Family::Rsa),
        "EC" => matches!(family, Family::EcP256 | Family::EcP384 | Family::EcP521),
        "OKP" => matches!(family, Family::Ed25519),
        "oct" => matches!(family, Family::Hmac),
        _ => false,
    };
    prop_assert!(want, "kty {} gave {:?}", kty, family);
    prop_assert!(jwk.get("use").is_none_or(|u| u == "sig"));
    prop_assert!(jwk
        .get("key_ops")
        .is_none_or(|o| o.as_array().is_some_and(|o| o.contains(&json!("verify")))));
    let usable: Vec<Algorithm> = Algorithm::ALL
        .into_iter()
        .filter(|a| key.fits(*a))
        .collect();
    prop_assert!(!usable.is_empty(), "an imported key verifies something");
    prop_assert!(usable.iter().all(|a| a.family() == family));
    if let Some(alg) = jwk.get("alg") {
        // A pinned key verifies its `alg` and nothing else (`EdDSA` and `Ed25519` are one).
        let pinned = Algorithm::from_name(alg.as_str().unwrap_or("?"));
        prop_assert_eq!(
            Some(usable.as_slice()),
            pinned.map(Algorithm::equivalents),
            "alg {}",
            alg
        );
    }
    match &key.material {
        Material::Secret { k } => {
            prop_assert_eq!(origin, Origin::Local, "oct keys only from local sets");
            prop_assert!(usable.iter().all(|a| k.len() >= a.min_secret_len()));
        }
        Material::Ed25519 { x } => {
            prop_assert_eq!(x.len(), 32);
            prop_assert!(!small_order(x), "small-order point {:?}", x);
        }
        Material::Rsa { n, .. } => prop_assert!(n.len() * 8 >= 2048 && n[0] != 0),
        Material::Ec { point, .. } => prop_assert_eq!(point[0], 4),
    }
    if let (Some(crv), Family::EcP256 | Family::EcP384 | Family::EcP521) = (jwk.get("crv"), family)
    {
        let want = match family {
            Family::EcP256 => "P-256",
            Family::EcP384 => "P-384",
            _ => "P-521",
        };
        prop_assert_eq!(crv.as_str(), Some(want));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn jwk_import_keeps_the_rules(jwk in jwk()) {
        check_rules(&jwk, Origin::Remote)?;
        check_rules(&jwk, Origin::Local)?;
    }

    #[test]
    fn jwk_import_never_panics_on_any_json(value in json_value()) {
        let _ = import(&value, Origin::Local);
        let _ = KeySet::parse(value.to_string().as_bytes(), Origin::Remote, None);
    }

    #[test]
    fn keyset_parse_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = KeySet::parse(&bytes, Origin::Remote, None);
    }
}

// ---------------------------------------------------------------- durations

/// `<digits and at most one dot, with a digit><ms|s|m|h|d>`, at most ten years.
fn reference_duration(text: &str) -> Option<f64> {
    let (number, scale) = [
        ("ms", 1.0),
        ("s", 1e3),
        ("m", 6e4),
        ("h", 3.6e6),
        ("d", 8.64e7),
    ]
    .iter()
    .find_map(|(unit, scale)| text.strip_suffix(unit).map(|n| (n, *scale)))?;
    let grammar = number.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && number.bytes().filter(|b| *b == b'.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit());
    if !grammar {
        return None;
    }
    let ms = number.parse::<f64>().ok()? * scale;
    (ms <= MAX_MS).then_some(ms)
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn durations_never_panic(text in any::<String>(), seconds in any::<f64>()) {
        let _ = duration::ms_from_str(&text);
        let ms = duration::ms_from_seconds(seconds);
        if let Ok(ms) = ms {
            prop_assert!((0.0..=MAX_MS).contains(&ms));
            prop_assert!(duration::to_std(ms).is_ok());
        }
    }

    #[test]
    fn duration_strings_agree_with_the_reference(text in "[0-9.]{0,14}(ms|s|m|h|d|x|)(s|)") {
        let ours = duration::ms_from_str(&text);
        prop_assert_eq!(ours.ok(), reference_duration(&text), "{:?}: {:?}", text, ours);
    }

    #[test]
    fn duration_numbers_are_range_checked(seconds in prop_oneof![any::<f64>(), 0.0..4e8f64]) {
        let want = if !(seconds * 1000.0).is_finite() {
            Err(DurationError::NotFinite)
        } else if seconds < 0.0 {
            Err(DurationError::Negative)
        } else if seconds * 1000.0 > MAX_MS {
            Err(DurationError::TooLong)
        } else {
            Ok(seconds * 1000.0)
        };
        prop_assert_eq!(duration::ms_from_seconds(seconds), want);
    }
}
