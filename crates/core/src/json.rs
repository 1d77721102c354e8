//! Strict JSON object reading for JOSE headers and JWT payloads: a top-level object, no
//! duplicate member names, bounded nesting.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

/// Deepest nesting of arrays and objects accepted in a payload.
pub const MAX_DEPTH: usize = 64;

/// Why a text is not an acceptable JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectError {
    /// Not JSON at all.
    Syntax,
    /// JSON, but not an object.
    NotObject,
    /// A member name appears twice at the top level.
    Duplicate(String),
    /// Arrays/objects nest deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectError::Syntax => f.write_str("is not valid JSON"),
            ObjectError::NotObject => f.write_str("is not a JSON object"),
            ObjectError::Duplicate(name) => write!(f, "has a duplicate member name {name:?}"),
            ObjectError::TooDeep => write!(f, "nests deeper than {MAX_DEPTH} levels"),
        }
    }
}

/// The top-level members of an object, in order, values left as raw JSON.
pub type Members<'a> = Vec<(String, &'a RawValue)>;

/// Read a JSON object's top-level members, refusing duplicates and deep nesting.
pub fn object_members(text: &str) -> Result<Members<'_>, ObjectError> {
    if depth_exceeds(text.as_bytes(), MAX_DEPTH) {
        return Err(ObjectError::TooDeep);
    }
    if text.trim_start().as_bytes().first() != Some(&b'{') {
        return match serde_json::from_str::<de::IgnoredAny>(text) {
            Ok(_) => Err(ObjectError::NotObject),
            Err(_) => Err(ObjectError::Syntax),
        };
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let mut duplicate = None;
    let members = de
        .deserialize_map(MembersVisitor {
            duplicate: &mut duplicate,
        })
        .map_err(|_| match duplicate.take() {
            Some(name) => ObjectError::Duplicate(name),
            None => ObjectError::Syntax,
        })?;
    de.end().map_err(|_| ObjectError::Syntax)?;
    Ok(members)
}

struct MembersVisitor<'d> {
    duplicate: &'d mut Option<String>,
}

impl<'de> Visitor<'de> for MembersVisitor<'_> {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Members<'de> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.iter().any(|(seen, _)| *seen == name) {
                *self.duplicate = Some(name);
                return Err(de::Error::custom("duplicate member name"));
            }
            let value: &'de RawValue = map.next_value()?;
            members.push((name, value));
        }
        Ok(members)
    }
}

/// True when arrays/objects in `json` nest deeper than `limit` (strings are skipped).
fn depth_exceeds(json: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in json {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_members_in_order() {
        let members = object_members(r#" {"a":1,"b":{"c":[1,2]},"d":"x"} "#).unwrap();
        let names: Vec<_> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "d"]);
        assert_eq!(members[1].1.get(), r#"{"c":[1,2]}"#);
    }

    #[test]
    fn refusals() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(70), "]".repeat(70));
        let ok_deep = format!("{{\"a\":{}1{}}}", "[".repeat(60), "]".repeat(60));
        let cases: Vec<(&str, ObjectError)> = vec![
            ("[1,2]", ObjectError::NotObject),
            ("42", ObjectError::NotObject),
            ("\"s\"", ObjectError::NotObject),
            ("nope", ObjectError::Syntax),
            ("{\"a\":1", ObjectError::Syntax),
            ("{\"a\":1} x", ObjectError::Syntax),
            ("{\"a\":1,\"a\":2}", ObjectError::Duplicate("a".into())),
            (
                "{\"\\u0061\":1,\"a\":2}",
                ObjectError::Duplicate("a".into()),
            ),
            (&deep, ObjectError::TooDeep),
        ];
        for (text, want) in cases {
            assert_eq!(object_members(text).unwrap_err(), want, "{text}");
        }
        assert!(object_members(&ok_deep).is_ok(), "60 levels are fine");
        assert!(
            object_members(r#"{"a":{"b":1,"b":2}}"#).is_ok(),
            "nested duplicates are not checked"
        );
        assert!(
            object_members(r#"{"s":"[[[[{{{{"}"#).is_ok(),
            "brackets in strings do not count"
        );
    }
}
