//! The `shared` option: the fleet's shared tier on Redis.

use base64::Engine;
use serde_json::Value;

use crate::error::Result;
use crate::options::reader::{kind, Object};
use crate::store::{SharedOptions, DEFAULT_PREFIX, DEFAULT_TIMEOUT_MS};

const KEYS: [&str; 4] = ["redis", "secret", "prefix", "timeout"];
/// Shortest `shared.secret`.
pub const MIN_SECRET_LEN: usize = 32;

/// `shared`, if present. A binary secret arrives from the glue as `{ "$bytes": base64 }`.
pub fn parse(o: &Object<'_>) -> Result<Option<SharedOptions>> {
    let Some(s) = o.object("shared", &KEYS)? else {
        return Ok(None);
    };
    let redis = s.get("redis").ok_or_else(|| {
        crate::Error::options(
            &s.path("redis"),
            "is required (e.g. \"redis://127.0.0.1:6379/0\")",
        )
    })?;
    let redis_url = redis.string()?;
    match url::Url::parse(&redis_url).map(|u| u.scheme().to_owned()) {
        Ok(scheme) if scheme == "redis" || scheme == "rediss" => {}
        _ => return Err(redis.error("must be a redis:// or rediss:// URL")),
    }
    let secret_field = s.get("secret").ok_or_else(|| {
        crate::Error::options(
            &s.path("secret"),
            "is required (at least 32 bytes; entries are authenticated with it)",
        )
    })?;
    let secret = match secret_field.value {
        Value::String(text) => text.as_bytes().to_vec(),
        Value::Object(map) if map.len() == 1 && map.contains_key("$bytes") => map
            .get("$bytes")
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .ok_or_else(|| secret_field.error("could not be read"))?,
        v => {
            return Err(
                secret_field.error(format!("must be a string or a Uint8Array, got {}", kind(v)))
            )
        }
    };
    if secret.len() < MIN_SECRET_LEN {
        return Err(secret_field.error(format!(
            "is {} bytes; at least {MIN_SECRET_LEN} are needed (e.g. 32 random bytes, base64-encoded)",
            secret.len()
        )));
    }
    let prefix = s
        .string("prefix")?
        .unwrap_or_else(|| DEFAULT_PREFIX.to_owned());
    if prefix.is_empty() || prefix.contains(char::is_whitespace) {
        return Err(crate::Error::options(
            &s.path("prefix"),
            "must be a non-empty word without spaces",
        ));
    }
    let timeout_ms = s
        .duration("timeout", &crate::options::durations::SHARED_TIMEOUT)?
        .map_or(DEFAULT_TIMEOUT_MS, |ms| ms.ceil() as u64);
    Ok(Some(SharedOptions {
        redis: redis_url,
        secret,
        prefix,
        timeout_ms,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse_v(v: Value) -> Result<Option<SharedOptions>> {
        parse(&Object::root(&v)?)
    }

    #[test]
    fn forms_defaults_and_refusals() {
        let s32 = "s".repeat(32);
        let o = parse_v(json!({"shared":{"redis":"redis://127.0.0.1:6379/0","secret":s32}}))
            .unwrap()
            .unwrap();
        assert_eq!(o.prefix, "jwks-verify");
        assert_eq!(o.timeout_ms, 50);
        assert!(!format!("{o:?}").contains(&s32), "Debug hides the secret");
        let bytes = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        let o = parse_v(json!({"shared":{"redis":"rediss://cache:6380","secret":{"$bytes":bytes},"timeout":"20ms","prefix":"app1"}})).unwrap().unwrap();
        assert_eq!(o.secret, vec![9u8; 32]);
        assert_eq!((o.timeout_ms, o.prefix.as_str()), (20, "app1"));
        let cases = [
            (
                json!({"shared":{"secret":s32}}),
                "\"shared.redis\" is required",
            ),
            (
                json!({"shared":{"redis":"http://x","secret":s32}}),
                "\"shared.redis\" must be a redis://",
            ),
            (
                json!({"shared":{"redis":"redis://x"}}),
                "\"shared.secret\" is required",
            ),
            (
                json!({"shared":{"redis":"redis://x","secret":"short"}}),
                "\"shared.secret\" is 5 bytes",
            ),
            (
                json!({"shared":{"redis":"redis://x","secret":s32,"timeout":0}}),
                "\"shared.timeout\" must be greater than 0",
            ),
            (
                json!({"shared":{"redis":"redis://x","secret":s32,"prefx":"a"}}),
                "did you mean \"prefix\"",
            ),
        ];
        for (v, fragment) in cases {
            let e = parse_v(v.clone()).expect_err(&v.to_string());
            assert!(e.message.contains(fragment), "{v}: {}", e.message);
            assert!(!e.message.contains(&"s".repeat(32)));
        }
    }
}
