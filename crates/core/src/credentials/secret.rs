//! [`Secret`]: a string that never shows itself. Client secrets and access tokens are held in
//! one, so `{:?}` of anything holding them prints `[redacted]`, and error messages and events
//! can be scrubbed of them with [`Secret::redact`].

use std::fmt;

/// A client secret or a token. `Debug` prints `[redacted]`; there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Shortest secret [`Secret::redact`] looks for: shorter ones would match ordinary words.
const MIN_REDACTED_LEN: usize = 6;

impl Secret {
    /// Wrap a value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of this secret replaced by `[redacted]` (a server may echo
    /// what it was sent into an error description).
    pub fn redact(&self, text: &str) -> String {
        if self.0.len() < MIN_REDACTED_LEN || !text.contains(self.0.as_str()) {
            return text.to_owned();
        }
        text.replace(self.0.as_str(), "[redacted]")
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_itself() {
        let s = Secret::new("hunter2-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert_eq!(s.expose(), "hunter2-secret");
        let cases = [
            ("bad secret hunter2-secret!", "bad secret [redacted]!"),
            ("nothing here", "nothing here"),
        ];
        for (text, want) in cases {
            assert_eq!(s.redact(text), want, "{text}");
        }
        assert_eq!(
            Secret::new("ab").redact("ab cab"),
            "ab cab",
            "too short to look for"
        );
    }
}
