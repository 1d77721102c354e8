//! Strict JSON object reading for JOSE headers and JWT payloads: a top-level object, no
//! duplicate member names, a bounded number of top-level members, bounded nesting.
//!
//! The work is linear in the text (plus `n log n` name comparisons for the duplicate check):
//! a forged token cannot make us spend quadratic time before its signature is checked.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::cmp::Ordering;
use std::fmt;

/// Deepest nesting of arrays and objects accepted (the top-level object counts as 1).
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
    /// More top-level members than the limit (the limit).
    TooManyMembers(usize),
}

impl fmt::Display for ObjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObjectError::Syntax => f.write_str("is not valid JSON"),
            ObjectError::NotObject => f.write_str("is not a JSON object"),
            ObjectError::Duplicate(name) => write!(f, "has a duplicate member name {name:?}"),
            ObjectError::TooDeep => write!(f, "nests deeper than {MAX_DEPTH} levels"),
            ObjectError::TooManyMembers(limit) => {
                write!(f, "has more than {limit} members")
            }
        }
    }
}

/// The top-level members of an object, in order, values left as raw JSON.
pub type Members<'a> = Vec<(String, &'a RawValue)>;

/// Read a JSON object's top-level members, refusing duplicates, more than `max_members`
/// members and deep nesting.
pub fn object_members(text: &str, max_members: usize) -> Result<Members<'_>, ObjectError> {
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
    let mut too_many = false;
    let members = de
        .deserialize_map(MembersVisitor {
            max_members,
            too_many: &mut too_many,
        })
        .map_err(|_| match too_many {
            true => ObjectError::TooManyMembers(max_members),
            false => ObjectError::Syntax,
        })?;
    de.end().map_err(|_| ObjectError::Syntax)?;
    let mut names: Vec<&str> = members.iter().map(|(name, _)| name.as_str()).collect();
    if let Some(name) = first_duplicate_by(&mut names, |a, b| a.cmp(b)) {
        return Err(ObjectError::Duplicate(name.to_owned()));
    }
    Ok(members)
}

/// The first (in sort order) name that appears twice. Sorts `names`: `O(n log n)`
/// comparisons, where comparing each name with all previous ones would be `n²`.
fn first_duplicate_by<'a>(
    names: &mut [&'a str],
    mut cmp: impl FnMut(&str, &str) -> Ordering,
) -> Option<&'a str> {
    names.sort_unstable_by(|a, b| cmp(a, b));
    names
        .windows(2)
        .find(|pair| cmp(pair[0], pair[1]) == Ordering::Equal)
        .map(|pair| pair[0])
}

struct MembersVisitor<'f> {
    max_members: usize,
    too_many: &'f mut bool,
}

impl<'de> Visitor<'de> for MembersVisitor<'_> {
    type Value = Members<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Members<'de> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if members.len() == self.max_members {
                *self.too_many = true;
                return Err(de::Error::custom("too many members"));
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

    /// `{"a":` + `levels - 1` nested arrays around `1` + `}`: `levels` containers deep.
    fn nested(levels: usize) -> String {
        format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(levels - 1),
            "]".repeat(levels - 1)
        )
    }

    /// An object with `n` distinct members `"m0"`, `"m1"`, ...
    fn wide(n: usize) -> String {
        let members: Vec<String> = (0..n).map(|i| format!("\"m{i}\":{i}")).collect();
        format!("{{{}}}", members.join(","))
    }

    #[test]
    fn reads_members_in_order() {
        let members = object_members(r#" {"a":1,"b":{"c":[1,2]},"d":"x"} "#, 64).unwrap();
        let names: Vec<_> = members.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a", "b", "d"]);
        assert_eq!(members[1].1.get(), r#"{"c":[1,2]}"#);
    }

    #[test]
    fn refusals() {
        let cases: Vec<(String, ObjectError)> = vec![
            ("[1,2]".into(), ObjectError::NotObject),
            ("42".into(), ObjectError::NotObject),
            ("\"s\"".into(), ObjectError::NotObject),
            ("nope".into(), ObjectError::Syntax),
            ("".into(), ObjectError::Syntax),
            ("{\"a\":1".into(), ObjectError::Syntax),
            ("{\"a\":1} x".into(), ObjectError::Syntax),
            (
                "{\"a\":1,\"a\":2}".into(),
                ObjectError::Duplicate("a".into()),
            ),
            (
                "{\"b\":1,\"a\":1,\"c\":1,\"a\":2}".into(),
                ObjectError::Duplicate("a".into()),
            ),
            (
                "{\"\\u0061\":1,\"a\":2}".into(),
                ObjectError::Duplicate("a".into()),
            ),
            (nested(70), ObjectError::TooDeep),
            (wide(65), ObjectError::TooManyMembers(64)),
        ];
        for (text, want) in cases {
            assert_eq!(object_members(&text, 64).unwrap_err(), want, "{text:.80}");
        }
        assert!(
            object_members(r#"{"a":{"b":1,"b":2}}"#, 64).is_ok(),
            "nested duplicates are not checked"
        );
        assert!(
            object_members(r#"{"a":1,"A":2,"a ":3}"#, 64).is_ok(),
            "names differing by case or a space are distinct"
        );
    }

    #[test]
    fn member_limit_boundary() {
        assert_eq!(object_members(&wide(64), 64).map(|m| m.len()), Ok(64));
        assert_eq!(
            object_members(&wide(65), 64).unwrap_err(),
            ObjectError::TooManyMembers(64)
        );
        assert_eq!(object_members("{}", 0).map(|m| m.len()), Ok(0));
        assert_eq!(
            object_members("{\"a\":1}", 0).unwrap_err(),
            ObjectError::TooManyMembers(0)
        );
        assert_eq!(
            ObjectError::TooManyMembers(64).to_string(),
            "has more than 64 members"
        );
    }

    #[test]
    fn duplicate_check_needs_n_log_n_comparisons_not_n_squared() {
        let n: usize = 4096;
        let owned: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
        let mut names: Vec<&str> = owned.iter().map(String::as_str).collect();
        let mut comparisons = 0usize;
        let found = first_duplicate_by(&mut names, |a, b| {
            comparisons += 1;
            a.cmp(b)
        });
        assert_eq!(found, None);
        // n log2 n is about 49k; comparing each name with all previous ones is n²/2 = 8.4M.
        let log2 = usize::BITS - n.leading_zeros();
        assert!(
            comparisons <= 4 * n * log2 as usize,
            "{comparisons} comparisons for {n} names"
        );

        let mut with_dup: Vec<&str> = owned.iter().map(String::as_str).collect();
        with_dup.push("m4000");
        assert_eq!(
            first_duplicate_by(&mut with_dup, |a, b| a.cmp(b)),
            Some("m4000")
        );
        assert_eq!(first_duplicate_by(&mut [], |a, b| a.cmp(b)), None);
        assert_eq!(first_duplicate_by(&mut ["x"], |a, b| a.cmp(b)), None);
    }

    #[test]
    fn duplicate_among_thousands_of_members_is_found() {
        let mut text = wide(4000);
        text.truncate(text.len() - 1);
        text.push_str(",\"m1234\":0}");
        assert_eq!(
            object_members(&text, 4096).unwrap_err(),
            ObjectError::Duplicate("m1234".into())
        );
    }

    #[test]
    fn depth_boundary() {
        assert!(
            object_members(&nested(64), 64).is_ok(),
            "64 levels accepted"
        );
        assert_eq!(
            object_members(&nested(65), 64).unwrap_err(),
            ObjectError::TooDeep,
            "65 levels refused"
        );
        let objects = format!(
            "{}{}",
            "{\"a\":".repeat(65),
            "1".to_owned() + &"}".repeat(65)
        );
        assert_eq!(
            object_members(&objects, 64).unwrap_err(),
            ObjectError::TooDeep,
            "objects count like arrays"
        );
    }

    #[test]
    fn depth_counter_ignores_brackets_in_strings() {
        // Closing brackets hidden in strings must not lower the count...
        let hiding = |close: &str| {
            format!(
                "{{\"a\":{}1{}}}",
                format!("[\"{close}\",").repeat(64),
                "]".repeat(64)
            )
        };
        for close in ["]", "}", "]]]]", "}}}}", "\\\"]]", "\\\\]"] {
            assert!(
                depth_exceeds(hiding(close).as_bytes(), MAX_DEPTH),
                "{close:?} in strings lowered the depth"
            );
        }
        // ...nor opening brackets in strings raise it.
        assert!(object_members(r#"{"s":"[[[[{{{{"}"#, 64).is_ok());
        let opening = format!("{{\"s\":\"{}\"}}", "[{".repeat(100));
        assert!(object_members(&opening, 64).is_ok());
        // An escaped backslash ends before the quote: what follows is outside the string.
        let deep = nested(65);
        let after_backslash = format!("{{\"s\":\"\\\\\",\"a\":{}", &deep[5..]);
        assert!(
            depth_exceeds(after_backslash.as_bytes(), MAX_DEPTH),
            "brackets after \"\\\\\" must count"
        );
        // An escaped quote does not end the string.
        let escaped_quote = format!("{{\"s\":\"\\\"{}\"}}", "[".repeat(100));
        assert!(object_members(&escaped_quote, 64).is_ok());
    }

    #[test]
    fn many_shallow_containers_are_fine() {
        // 200 containers in total, never more than 3 deep.
        let text = format!(
            "{{\"a\":[{}],\"b\":[{}]}}",
            vec!["[]"; 100].join(","),
            vec!["{\"x\":[1]}"; 50].join(",")
        );
        assert!(object_members(&text, 64).is_ok());
        assert!(!depth_exceeds(b"[][][][]", 1), "siblings do not add up");
        assert!(depth_exceeds(b"[[]]", 1));
    }
}
