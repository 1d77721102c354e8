//! Reading a JSON-like options value with the path of every value at hand, so each refusal is
//! ERR_INVALID_OPTIONS naming the option exactly (`issuers[1].audience`, `cache.maxAge`).

use serde_json::{Map, Value};

use crate::duration;
use crate::error::{Error, ErrorCode, Result};
use crate::options::durations::{self, DurationOption};

/// An options object and its path (empty at the top level).
#[derive(Clone)]
pub struct Object<'a> {
    prefix: String,
    map: &'a Map<String, Value>,
}

/// One value and its path.
#[derive(Clone)]
pub struct Field<'a> {
    pub path: String,
    pub value: &'a Value,
}

/// What a JSON value is, for messages.
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Object<'a> {
    /// The top-level options object.
    pub fn root(value: &'a Value) -> Result<Object<'a>> {
        match value {
            Value::Object(map) => Ok(Object {
                prefix: String::new(),
                map,
            }),
            _ => Err(Error::new(
                ErrorCode::InvalidOptions,
                "options must be an object",
            )),
        }
    }

    /// An object at `path`.
    pub fn at(path: String, map: &'a Map<String, Value>) -> Object<'a> {
        Object { prefix: path, map }
    }

    /// The path of a member.
    pub fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    /// True when the member is present.
    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A member, with its path.
    pub fn get(&self, key: &str) -> Option<Field<'a>> {
        self.map.get(key).map(|value| Field {
            path: self.path(key),
            value,
        })
    }

    /// Refuse unknown members (with a "did you mean" hint) and `null` values.
    pub fn check_keys(&self, allowed: &[&str]) -> Result<()> {
        for (key, value) in self.map {
            let full = self.path(key);
            if !allowed.contains(&key.as_str()) {
                let hint = allowed
                    .iter()
                    .map(|a| {
                        (
                            edit_distance(&a.to_ascii_lowercase(), &key.to_ascii_lowercase()),
                            a,
                        )
                    })
                    .filter(|(d, _)| *d <= 2)
                    .min()
                    .map(|(_, a)| format!(" (did you mean \"{a}\"?)"))
                    .unwrap_or_default();
                return Err(Error::new(
                    ErrorCode::InvalidOptions,
                    format!("unknown option \"{full}\"{hint}"),
                ));
            }
            if value.is_null() {
                return Err(Error::options(
                    &full,
                    "must not be null (leave it out to get the default)",
                ));
            }
        }
        Ok(())
    }

    /// An optional string member.
    pub fn string(&self, key: &str) -> Result<Option<String>> {
        self.get(key).map(|f| f.string()).transpose()
    }

    /// An optional duration member, in milliseconds.
    pub fn duration_ms(&self, key: &str, allow_zero: bool) -> Result<Option<f64>> {
        self.get(key).map(|f| f.duration_ms(allow_zero)).transpose()
    }

    /// An optional duration member of the [`durations`] table, in milliseconds: zero as the
    /// row allows, a bare number at most the row's bound.
    pub fn duration(&self, key: &str, option: &DurationOption) -> Result<Option<f64>> {
        self.get(key).map(|f| f.duration(option)).transpose()
    }

    /// An optional boolean member.
    pub fn boolean(&self, key: &str) -> Result<Option<bool>> {
        self.get(key)
            .map(|f| match f.value {
                Value::Bool(b) => Ok(*b),
                v => Err(f.error(format!("must be a boolean, got {}", kind(v)))),
            })
            .transpose()
    }

    /// An optional nested object, its members checked against `allowed`.
    pub fn object(&self, key: &str, allowed: &[&str]) -> Result<Option<Object<'a>>> {
        let Some(f) = self.get(key) else {
            return Ok(None);
        };
        let o = f.object()?;
        o.check_keys(allowed)?;
        Ok(Some(o))
    }

    /// Every member, with its path.
    pub fn members(&self) -> impl Iterator<Item = (&'a String, Field<'a>)> + '_ {
        self.map.iter().map(move |(k, value)| {
            (
                k,
                Field {
                    path: self.path(k),
                    value,
                },
            )
        })
    }
}

impl<'a> Field<'a> {
    /// ERR_INVALID_OPTIONS naming this value.
    pub fn error(&self, why: impl std::fmt::Display) -> Error {
        Error::options(&self.path, why)
    }

    /// An object.
    pub fn object(&self) -> Result<Object<'a>> {
        match self.value {
            Value::Object(map) => Ok(Object::at(self.path.clone(), map)),
            v => Err(self.error(format!("must be an object, got {}", kind(v)))),
        }
    }

    /// A string.
    pub fn string(&self) -> Result<String> {
        match self.value {
            Value::String(s) => Ok(s.clone()),
            v => Err(self.error(format!("must be a string, got {}", kind(v)))),
        }
    }

    /// An array of strings (`allow_empty` or not).
    pub fn string_list(&self, allow_empty: bool) -> Result<Vec<String>> {
        let list = self.value.as_array().ok_or_else(|| {
            self.error(format!(
                "must be an array of strings, got {}",
                kind(self.value)
            ))
        })?;
        if list.is_empty() && !allow_empty {
            return Err(self.error("must not be empty"));
        }
        list.iter()
            .map(|s| {
                s.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.error("must contain only strings"))
            })
            .collect()
    }

    /// A string, or an array of strings (not empty).
    pub fn string_or_list(&self) -> Result<Vec<String>> {
        match self.value {
            Value::String(s) => Ok(vec![s.clone()]),
            Value::Array(_) => self.string_list(false),
            v => Err(self.error(format!(
                "must be a string or an array of strings, got {}",
                kind(v)
            ))),
        }
    }

    /// A positive integer.
    pub fn positive_integer(&self) -> Result<usize> {
        match self.value.as_u64() {
            Some(n) if n > 0 => Ok(n as usize),
            _ => Err(self.error(format!("must be a positive integer, got {}", self.value))),
        }
    }

    /// A duration of the [`durations`] table, in milliseconds: [`Field::duration_ms`], and a
    /// bare number above the row's bound refused as a unit mistake.
    pub fn duration(&self, option: &DurationOption) -> Result<f64> {
        if let Some(seconds) = self.value.as_f64() {
            if let Some(why) = durations::unit_mistake(option, seconds) {
                return Err(self.error(why));
            }
        }
        self.duration_ms(option.allow_zero)
    }

    /// A duration in milliseconds: a number of seconds or `<number><ms|s|m|h|d>`. Zero only
    /// with `allow_zero`.
    pub fn duration_ms(&self, allow_zero: bool) -> Result<f64> {
        let ms = match self.value {
            Value::Number(n) => n.as_f64().and_then(duration::seconds_to_ms),
            Value::String(s) => duration::parse_ms(s),
            _ => None,
        }
        .ok_or_else(|| {
            self.error("must be a number of seconds or a string like \"500ms\", \"30s\", \"10m\", \"1h\", \"1d\"")
        })?;
        if ms < 0.0 || (!allow_zero && ms == 0.0) {
            return Err(self.error(if allow_zero {
                "must not be negative"
            } else {
                "must be greater than 0"
            }));
        }
        Ok(ms)
    }
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for j in 0..b.len() {
            let cur = row[j + 1];
            row[j + 1] = if ca == b[j] {
                prev
            } else {
                1 + prev.min(row[j]).min(cur)
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_follow_the_nesting() {
        let v = json!({"cache": {"maxAge": "x"}, "name": 5});
        let root = Object::root(&v).unwrap();
        let cache = root.object("cache", &["maxAge"]).unwrap().unwrap();
        let e = cache.duration_ms("maxAge", false).unwrap_err();
        assert!(
            e.message.starts_with("option \"cache.maxAge\""),
            "{}",
            e.message
        );
        let e = root.string("name").unwrap_err();
        assert_eq!(e.message, "option \"name\" must be a string, got a number");
        assert_eq!(edit_distance("audience", "audiance"), 1);
    }

    #[test]
    fn string_or_list_says_both_shapes() {
        let v = json!({"audience": 123, "ok": "api", "list": ["a", "b"], "mixed": ["a", 1]});
        let root = Object::root(&v).unwrap();
        let e = root.get("audience").unwrap().string_or_list().unwrap_err();
        assert_eq!(
            e.message,
            "option \"audience\" must be a string or an array of strings, got a number"
        );
        assert_eq!(root.get("ok").unwrap().string_or_list().unwrap(), ["api"]);
        assert_eq!(
            root.get("list").unwrap().string_or_list().unwrap(),
            ["a", "b"]
        );
        let e = root.get("mixed").unwrap().string_or_list().unwrap_err();
        assert!(
            e.message.ends_with("must contain only strings"),
            "{}",
            e.message
        );
    }
}
