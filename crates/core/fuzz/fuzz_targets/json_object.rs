//! The strict JSON object reader (`json::object_members`), differentially against serde_json's
//! `Value` plus a naive duplicate check and a recursive depth count.
#![no_main]

use jwks_verify_core::json::{object_members, ObjectError, MAX_DEPTH};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let limit = 16;
    let ours = object_members(text, limit);
    let reference = serde_json::from_str::<Value>(text);
    match (&ours, &reference) {
        (Ok(members), Ok(Value::Object(map))) => {
            assert!(depth(&reference.as_ref().expect("ok")) <= MAX_DEPTH);
            assert!(members.len() <= limit);
            // No duplicates: the reference map kept one entry per name.
            assert_eq!(members.len(), map.len());
            for (name, raw) in members {
                let value: Value = serde_json::from_str(raw.get()).expect("a member is JSON");
                assert_eq!(map.get(name), Some(&value));
            }
        }
        (Ok(_), Ok(other)) => panic!("accepted a non-object {other}"),
        (Ok(_), Err(e)) => {
            // Only numbers beyond f64 are JSON text that `Value` cannot hold.
            assert!(
                serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok(),
                "accepted invalid JSON: {e}"
            );
        }
        (Err(ObjectError::Duplicate(_)), Ok(Value::Object(_))) => {}
        (Err(ObjectError::TooManyMembers(_)), Ok(Value::Object(map))) => {
            assert!(map.len() > limit || text.matches(':').count() > limit)
        }
        (Err(ObjectError::TooDeep), _) => {
            if let Ok(v) = &reference {
                assert!(depth(v) > MAX_DEPTH);
            }
        }
        (Err(ObjectError::NotObject), Ok(v)) => assert!(!v.is_object()),
        (Err(ObjectError::Syntax), Ok(v)) => panic!("refused valid JSON {v}"),
        (Err(e), Ok(v)) => panic!("refused {v} as {e:?}"),
        (Err(_), Err(_)) => {}
    }
});
