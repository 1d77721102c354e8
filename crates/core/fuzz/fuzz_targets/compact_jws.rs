//! Compact JWS parsing (`token::parse`). The first byte picks the mode: raw text as the token,
//! or `header \0 payload \0 signature` encoded as base64url parts by the target (so the fuzzer
//! reaches the JSON readers without having to discover base64).
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwks_verify_core::token::{self, MAX_PAYLOAD_MEMBERS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let text = if mode % 2 == 0 {
        match std::str::from_utf8(rest) {
            Ok(text) => text.to_owned(),
            Err(_) => return,
        }
    } else {
        let mut parts = rest.splitn(3, |b| *b == 0);
        let h = parts.next().unwrap_or_default();
        let p = parts.next().unwrap_or_default();
        let s = parts.next().unwrap_or_default();
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(h),
            URL_SAFE_NO_PAD.encode(p),
            URL_SAFE_NO_PAD.encode(s)
        )
    };
    let Ok(t) = token::parse(&text, 1 << 16) else {
        return;
    };
    // What an accepted token must be: three canonical base64url parts of what was read.
    let parts: Vec<&str> = text.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(t.signing_len, parts[0].len() + 1 + parts[1].len());
    assert_eq!(URL_SAFE_NO_PAD.encode(t.header_json.as_bytes()), parts[0]);
    assert_eq!(URL_SAFE_NO_PAD.encode(t.payload_json.as_bytes()), parts[1]);
    assert_eq!(URL_SAFE_NO_PAD.encode(&t.signature), parts[2]);
    assert!(t.claims.names.len() <= MAX_PAYLOAD_MEMBERS);
    for date in [t.claims.exp, t.claims.nbf, t.claims.iat] {
        if let token::NumericDate::Value(v) = date {
            assert!(v.is_finite());
        }
    }
});
