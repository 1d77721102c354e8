//! A successful verification, as one JSON text `{"payload":…,"header":…,"issuer":…}`: the
//! addon hands it to a single `JSON.parse`, which gives a fresh result object on every call.

use std::ops::Range;
use std::sync::Arc;

/// See the module documentation.
#[derive(Debug, Clone)]
pub struct Verified {
    result_json: Arc<str>,
    payload: Range<usize>,
    header: Range<usize>,
    issuer: Option<Arc<str>>,
}

impl Verified {
    /// Assemble the result of a JWS: its payload and header JSON as the token carried them.
    pub fn new(payload_json: &str, header_json: &str, issuer: Arc<str>) -> Verified {
        Verified::assemble(payload_json, header_json, Some(issuer))
    }

    /// The result of an opaque token: the endpoint's answer as payload (`{}` without one),
    /// `header: null`, and the configured issuer or null.
    pub fn opaque(payload_json: Option<&str>, issuer: Option<Arc<str>>) -> Verified {
        Verified::assemble(payload_json.unwrap_or("{}"), "null", issuer)
    }

    fn assemble(payload_json: &str, header_json: &str, issuer: Option<Arc<str>>) -> Verified {
        let issuer_json = match &issuer {
            Some(i) => serde_json::to_string(&**i).unwrap_or_else(|_| "\"\"".to_owned()),
            None => "null".to_owned(),
        };
        let mut text =
            String::with_capacity(payload_json.len() + header_json.len() + issuer_json.len() + 32);
        text.push_str("{\"payload\":");
        let payload = text.len()..text.len() + payload_json.len();
        text.push_str(payload_json);
        text.push_str(",\"header\":");
        let header = text.len()..text.len() + header_json.len();
        text.push_str(header_json);
        text.push_str(",\"issuer\":");
        text.push_str(&issuer_json);
        text.push('}');
        Verified {
            result_json: Arc::from(text),
            payload,
            header,
            issuer,
        }
    }

    /// `{"payload":…,"header":…,"issuer":…}`.
    pub fn result_json(&self) -> &str {
        &self.result_json
    }

    /// The payload JSON text, as the token carried it.
    pub fn payload_json(&self) -> &str {
        &self.result_json[self.payload.clone()]
    }

    /// The protected header JSON text, as the token carried it.
    pub fn header_json(&self) -> &str {
        &self.result_json[self.header.clone()]
    }

    /// The issuer matched (the token's `iss` when `iss` is not checked; none for an opaque
    /// token of an issuer that names none).
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_json_is_one_document_with_the_parts_in_place() {
        let v = Verified::new(
            r#"{"sub":"u","n":[1,2]}"#,
            r#"{"alg":"ES256"}"#,
            Arc::from("https://i/\"q\""),
        );
        let doc: serde_json::Value = serde_json::from_str(v.result_json()).expect("valid JSON");
        assert_eq!(doc["payload"]["n"][1], 2);
        assert_eq!(doc["header"]["alg"], "ES256");
        assert_eq!(doc["issuer"], "https://i/\"q\"");
        assert_eq!(v.payload_json(), r#"{"sub":"u","n":[1,2]}"#);
        assert_eq!(v.header_json(), r#"{"alg":"ES256"}"#);
        assert_eq!(v.issuer(), Some("https://i/\"q\""));
        let o = Verified::opaque(None, None);
        assert_eq!(
            o.result_json(),
            r#"{"payload":{},"header":null,"issuer":null}"#
        );
        let o = Verified::opaque(Some(r#"{"active":true}"#), Some(Arc::from("https://i")));
        assert_eq!(
            o.result_json(),
            r#"{"payload":{"active":true},"header":null,"issuer":"https://i"}"#
        );
    }
}
