//! Compact JWS parsing: shape, base64url, header and payload JSON. No key, no time.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::value::RawValue;

use crate::error::{Error, Result};
use crate::json::object_members;

/// Header parameters registered by RFC 7515/7516: `crit` may not name them.
const REGISTERED_HEADER_PARAMS: [&str; 13] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "enc", "zip",
];

/// Most members a protected header may have (real headers have 2 to 5).
pub const MAX_HEADER_MEMBERS: usize = 64;

/// Most top-level members a JWT payload may have (real payloads have a few dozen).
pub const MAX_PAYLOAD_MEMBERS: usize = 4096;

/// A string claim or header parameter: absent, a string, or of the wrong JSON type.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Text {
    #[default]
    Absent,
    Value(String),
    WrongType,
}

/// A NumericDate claim: absent, a JSON number, or of the wrong type.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NumericDate {
    #[default]
    Absent,
    Value(f64),
    WrongType,
}

/// The `aud` claim: absent, a list of strings (one string becomes a list of one), or wrong type.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Audience {
    #[default]
    Absent,
    Values(Vec<String>),
    WrongType,
}

/// The protected header members that matter for verification.
#[derive(Debug, Clone, Default)]
pub struct Header {
    /// `alg` when it is a string.
    pub alg: Option<String>,
    /// `kid`: an opaque lookup string.
    pub kid: Option<String>,
    /// `typ`.
    pub typ: Text,
    /// `crit`: well-formed when present (non-empty, unregistered names, each present).
    pub crit: Option<Vec<String>>,
    /// `b64` when it is a boolean.
    pub b64: Option<bool>,
}

/// The registered claims, read but not yet judged.
#[derive(Debug, Clone, Default)]
pub struct Claims {
    pub iss: Text,
    pub sub: Text,
    pub aud: Audience,
    pub exp: NumericDate,
    pub nbf: NumericDate,
    pub iat: NumericDate,
    /// Every top-level member name, for `requiredClaims`.
    pub names: Vec<String>,
}

/// A parsed compact JWS whose signature is not yet checked.
#[derive(Debug, Clone)]
pub struct Token {
    pub header: Header,
    pub claims: Claims,
    /// The decoded header JSON text.
    pub header_json: String,
    /// The decoded payload JSON text.
    pub payload_json: String,
    /// `header.payload` length in bytes: the signing input is `token[..signing_len]`.
    pub signing_len: usize,
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Parse a compact JWS of at most `max_len` characters.
pub fn parse(token: &str, max_len: usize) -> Result<Token> {
    if token.len() > max_len {
        return Err(Error::jws(format!(
            "token is {} characters long, more than maxTokenLength ({max_len})",
            token.len()
        )));
    }
    check_alphabet(token)?;
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        let count = token.split('.').count();
        return Err(Error::jws(if count == 5 {
            "token has 5 parts: JWE (encrypted) tokens are not supported, a compact JWS has 3"
                .to_owned()
        } else {
            format!("a compact JWS has 3 parts separated by \".\", this token has {count}")
        }));
    };
    // The JWS shape first (every part strict base64url), then the header, then the payload.
    let header_bytes = decode(h, "header")?;
    let payload_bytes = decode(p, "payload")?;
    let signature = decode(s, "signature")?;
    let header_json =
        String::from_utf8(header_bytes).map_err(|_| Error::jws("header is not UTF-8"))?;
    let header = parse_header(&header_json)?;
    let payload_json =
        String::from_utf8(payload_bytes).map_err(|_| Error::jwt("JWT payload is not UTF-8"))?;
    let claims = parse_claims(&payload_json)?;
    Ok(Token {
        header,
        claims,
        header_json,
        payload_json,
        signing_len: h.len() + 1 + p.len(),
        signature,
    })
}

fn check_alphabet(token: &str) -> Result<()> {
    if token.is_empty() {
        return Err(Error::jws("token is empty"));
    }
    if token.starts_with("Bearer ") || token.starts_with("bearer ") {
        return Err(Error::jws(
            "token starts with \"Bearer \": pass the token without the scheme",
        ));
    }
    match token
        .bytes()
        .find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    {
        None => Ok(()),
        Some(b) if b.is_ascii_whitespace() => Err(Error::jws("token contains whitespace")),
        Some(b'=') => Err(Error::jws(
            "token contains base64 padding \"=\": JWS uses unpadded base64url",
        )),
        Some(_) => Err(Error::jws("token contains characters outside base64url")),
    }
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| Error::jws(format!("{what} is not valid base64url")))
}

fn parse_header(json: &str) -> Result<Header> {
    let members = object_members(json, MAX_HEADER_MEMBERS)
        .map_err(|e| Error::jws(format!("protected header {e}")))?;
    let mut names: Vec<&str> = members.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    let mut header = Header::default();
    for (name, raw) in &members {
        match name.as_str() {
            "alg" => header.alg = string(raw),
            "kid" => match text(raw) {
                Text::Value(kid) => header.kid = Some(kid),
                _ => return Err(Error::jws("\"kid\" header parameter must be a string")),
            },
            "typ" => header.typ = text(raw),
            "b64" => header.b64 = serde_json::from_str::<bool>(raw.get()).ok(),
            "crit" => header.crit = Some(parse_crit(raw, &names)?),
            _ => {}
        }
    }
    Ok(header)
}

/// `crit`, checked against the header's member names (`sorted`): one binary search per entry.
fn parse_crit(raw: &RawValue, sorted: &[&str]) -> Result<Vec<String>> {
    let names: Vec<String> = serde_json::from_str(raw.get())
        .map_err(|_| Error::jws("\"crit\" header parameter must be an array of strings"))?;
    if names.is_empty() {
        return Err(Error::jws("\"crit\" header parameter must not be empty"));
    }
    for name in &names {
        if REGISTERED_HEADER_PARAMS.contains(&name.as_str()) {
            return Err(Error::jws(format!(
                "\"crit\" must not name the registered parameter {name:?}"
            )));
        }
        if sorted.binary_search(&name.as_str()).is_err() {
            return Err(Error::jws(format!(
                "\"crit\" names {name:?}, which the header does not contain"
            )));
        }
    }
    Ok(names)
}

fn parse_claims(json: &str) -> Result<Claims> {
    let members = object_members(json, MAX_PAYLOAD_MEMBERS)
        .map_err(|e| Error::jwt(format!("JWT payload {e}")))?;
    let mut claims = Claims::default();
    for (name, raw) in &members {
        match name.as_str() {
            "iss" => claims.iss = text(raw),
            "sub" => claims.sub = text(raw),
            "aud" => claims.aud = audience(raw),
            "exp" => claims.exp = date(raw),
            "nbf" => claims.nbf = date(raw),
            "iat" => claims.iat = date(raw),
            _ => {}
        }
    }
    claims.names = members.into_iter().map(|(n, _)| n).collect();
    Ok(claims)
}

fn string(raw: &RawValue) -> Option<String> {
    serde_json::from_str(raw.get()).ok()
}

fn text(raw: &RawValue) -> Text {
    match serde_json::from_str::<String>(raw.get()) {
        Ok(s) => Text::Value(s),
        Err(_) => Text::WrongType,
    }
}

/// Only JSON numbers: serde refuses strings such as `"123"`, and numbers beyond `f64`
/// (`1e400`) rather than reading them as infinity.
fn date(raw: &RawValue) -> NumericDate {
    match serde_json::from_str::<f64>(raw.get()) {
        Ok(v) => NumericDate::Value(v),
        Err(_) => NumericDate::WrongType,
    }
}

fn audience(raw: &RawValue) -> Audience {
    if let Ok(one) = serde_json::from_str::<String>(raw.get()) {
        return Audience::Values(vec![one]);
    }
    match serde_json::from_str::<Vec<String>>(raw.get()) {
        Ok(list) => Audience::Values(list),
        Err(_) => Audience::WrongType,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn tok(header: &str, payload: &str) -> String {
        format!("{}.{}.{}", b64(header), b64(payload), b64("sig"))
    }

    #[test]
    fn parses_a_token() {
        let t = parse(
            &tok(
                r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#,
                r#"{"iss":"i","aud":["a","b"],"exp":5,"x":1}"#,
            ),
            16384,
        )
        .unwrap();
        assert_eq!(t.header.alg.as_deref(), Some("RS256"));
        assert_eq!(t.header.kid.as_deref(), Some("k1"));
        assert_eq!(t.header.typ, Text::Value("JWT".into()));
        assert_eq!(t.claims.iss, Text::Value("i".into()));
        assert_eq!(t.claims.aud, Audience::Values(vec!["a".into(), "b".into()]));
        assert_eq!(t.claims.exp, NumericDate::Value(5.0));
        assert_eq!(t.claims.names, ["iss", "aud", "exp", "x"]);
        assert_eq!(t.signature, b"sig");
    }

    #[test]
    fn wrong_claim_types_are_kept_for_later() {
        let t = parse(
            &tok(r#"{"alg":"RS256"}"#, r#"{"exp":"5","aud":5,"iss":1}"#),
            16384,
        )
        .unwrap();
        assert_eq!(t.claims.exp, NumericDate::WrongType);
        assert_eq!(t.claims.aud, Audience::WrongType);
        assert_eq!(t.claims.iss, Text::WrongType);
    }

    #[test]
    fn refusals() {
        let good = tok(r#"{"alg":"RS256"}"#, "{}");
        let cases: Vec<(String, ErrorCode, &str)> = vec![
            ("a".repeat(20000), ErrorCode::JwsInvalid, "maxTokenLength"),
            (String::new(), ErrorCode::JwsInvalid, "empty"),
            (format!("Bearer {good}"), ErrorCode::JwsInvalid, "Bearer"),
            (format!(" {good}"), ErrorCode::JwsInvalid, "whitespace"),
            (format!("{good}\n"), ErrorCode::JwsInvalid, "whitespace"),
            (format!("{good}="), ErrorCode::JwsInvalid, "padding"),
            (good.replace('.', "+"), ErrorCode::JwsInvalid, "base64url"),
            ("a.b".into(), ErrorCode::JwsInvalid, "this token has 2"),
            ("a.b.c.d".into(), ErrorCode::JwsInvalid, "this token has 4"),
            (
                "abc".into(),
                ErrorCode::JwsInvalid,
                "a compact JWS has 3 parts separated by \".\", this token has 1",
            ),
            ("a.b.c.d.e".into(), ErrorCode::JwsInvalid, "JWE"),
            (
                tok("[]", "{}"),
                ErrorCode::JwsInvalid,
                "header is not a JSON object",
            ),
            (
                tok(r#"{"alg":"RS256","alg":"none"}"#, "{}"),
                ErrorCode::JwsInvalid,
                "duplicate",
            ),
            (
                tok(r#"{"alg":"RS256","kid":5}"#, "{}"),
                ErrorCode::JwsInvalid,
                "kid",
            ),
            (
                tok(r#"{"alg":"RS256","crit":[]}"#, "{}"),
                ErrorCode::JwsInvalid,
                "empty",
            ),
            (
                tok(r#"{"alg":"RS256","crit":["exp"]}"#, "{}"),
                ErrorCode::JwsInvalid,
                "does not contain",
            ),
            (
                tok(r#"{"alg":"RS256","crit":["kid"],"kid":"a"}"#, "{}"),
                ErrorCode::JwsInvalid,
                "registered",
            ),
            (
                tok(r#"{"alg":"RS256","crit":"x"}"#, "{}"),
                ErrorCode::JwsInvalid,
                "array",
            ),
            (
                format!("{}.A.{}", b64(r#"{"alg":"RS256"}"#), b64("sig")),
                ErrorCode::JwsInvalid,
                "payload is not valid base64url",
            ),
            (
                format!("{}.e30.Ab", b64(r#"{"alg":"RS256"}"#)),
                ErrorCode::JwsInvalid,
                "signature is not valid base64url",
            ),
            (
                format!("{}.e30.", URL_SAFE_NO_PAD.encode(b"{\"alg\":\"\xff\"}")),
                ErrorCode::JwsInvalid,
                "header is not UTF-8",
            ),
            (
                format!(
                    "{}.{}.",
                    b64(r#"{"alg":"RS256"}"#),
                    URL_SAFE_NO_PAD.encode(b"{\"a\":\"\xff\"}")
                ),
                ErrorCode::JwtInvalid,
                "payload is not UTF-8",
            ),
            (
                format!("{}.{}.A", b64(r#"{"alg":"RS256"}"#), b64("[]")),
                ErrorCode::JwsInvalid,
                "signature",
            ),
            (
                tok(r#"{"alg":"RS256"}"#, "[1]"),
                ErrorCode::JwtInvalid,
                "not a JSON object",
            ),
            (
                tok(r#"{"alg":"RS256"}"#, "7"),
                ErrorCode::JwtInvalid,
                "not a JSON object",
            ),
            (
                tok(r#"{"alg":"RS256"}"#, "nope"),
                ErrorCode::JwtInvalid,
                "not valid JSON",
            ),
            (
                tok(r#"{"alg":"RS256"}"#, r#"{"a":1,"a":1}"#),
                ErrorCode::JwtInvalid,
                "duplicate",
            ),
            (
                tok(
                    r#"{"alg":"RS256"}"#,
                    &format!("{{\"a\":{}{}}}", "[".repeat(100), "]".repeat(100)),
                ),
                ErrorCode::JwtInvalid,
                "deeper",
            ),
        ];
        for (token, code, fragment) in cases {
            let err = parse(&token, 16384).unwrap_err();
            assert_eq!(err.code, code, "{token:.60}: {err}");
            assert!(
                err.message.contains(fragment),
                "{token:.60}: message {:?} lacks {fragment:?}",
                err.message
            );
        }
    }

    /// `{"alg":"RS256", "x0":0, "x1":1, ...}` with `extra` more members, plus `tail`.
    fn header_with(extra: usize, tail: &str) -> String {
        let mut members = vec![r#""alg":"RS256""#.to_owned()];
        members.extend((0..extra).map(|i| format!("\"x{i}\":{i}")));
        if !tail.is_empty() {
            members.push(tail.to_owned());
        }
        format!("{{{}}}", members.join(","))
    }

    /// A payload with `n` distinct members.
    fn payload_with(n: usize) -> String {
        let members: Vec<String> = (0..n).map(|i| format!("\"c{i}\":1")).collect();
        format!("{{{}}}", members.join(","))
    }

    #[test]
    fn member_limits_at_and_over_the_boundary() {
        let big = 1 << 20;
        let at = parse(&tok(&header_with(MAX_HEADER_MEMBERS - 1, ""), "{}"), big).unwrap();
        assert_eq!(at.header.alg.as_deref(), Some("RS256"));
        let err = parse(&tok(&header_with(MAX_HEADER_MEMBERS, ""), "{}"), big).unwrap_err();
        assert_eq!(err.code, ErrorCode::JwsInvalid);
        assert_eq!(err.message, "protected header has more than 64 members");

        let header = r#"{"alg":"RS256"}"#;
        let at = parse(&tok(header, &payload_with(MAX_PAYLOAD_MEMBERS)), big).unwrap();
        assert_eq!(at.claims.names.len(), MAX_PAYLOAD_MEMBERS);
        let err = parse(&tok(header, &payload_with(MAX_PAYLOAD_MEMBERS + 1)), big).unwrap_err();
        assert_eq!(err.code, ErrorCode::JwtInvalid);
        assert_eq!(err.message, "JWT payload has more than 4096 members");
    }

    #[test]
    fn max_token_length_at_and_one_over() {
        let token = tok(r#"{"alg":"RS256"}"#, "{}");
        assert!(parse(&token, token.len()).is_ok(), "exactly at the limit");
        let err = parse(&token, token.len() - 1).unwrap_err();
        assert_eq!(err.code, ErrorCode::JwsInvalid);
        assert!(err.message.contains("maxTokenLength"), "{}", err.message);
    }

    #[test]
    fn the_audit_token_is_refused_by_count() {
        // The audit's forged token: 16 KiB of short header member names. Its header is now
        // refused after reading 65 names, whatever the length limit.
        let names: Vec<String> = (0..1740).map(|i| format!("\"{i:x}\":0")).collect();
        let header = format!("{{\"alg\":\"RS256\",{}}}", names.join(","));
        let err = parse(&tok(&header, "{}"), 1 << 20).unwrap_err();
        assert_eq!(err.code, ErrorCode::JwsInvalid);
        assert!(
            err.message.contains("more than 64 members"),
            "{}",
            err.message
        );
    }

    #[test]
    fn crit_checks_every_name() {
        let crit = |names: &str, extra: &str| {
            parse(
                &tok(
                    &format!(r#"{{"alg":"RS256","crit":[{names}]{extra}}}"#),
                    "{}",
                ),
                16384,
            )
        };
        let ok = crit(r#""b","a""#, r#","a":1,"b":2"#).unwrap();
        assert_eq!(ok.header.crit, Some(vec!["b".to_owned(), "a".to_owned()]));
        let err = crit(r#""a","c""#, r#","a":1,"b":2"#).unwrap_err();
        assert!(err.message.contains("\"c\""), "{}", err.message);
        // A long crit list of present names costs one lookup each.
        let many = vec![r#""a""#; 2000].join(",");
        assert!(crit(&many, r#","a":1"#).is_ok());
        for registered in REGISTERED_HEADER_PARAMS {
            let err = crit(&format!("{registered:?}"), "").unwrap_err();
            assert!(err.message.contains("registered"), "{registered}: {err}");
        }
    }

    #[test]
    fn numeric_dates_must_be_finite_json_numbers() {
        let header = r#"{"alg":"RS256"}"#;
        let cases = [
            (r#"{"exp":1e400}"#, NumericDate::WrongType),
            (r#"{"exp":"5"}"#, NumericDate::WrongType),
            (r#"{"exp":null}"#, NumericDate::WrongType),
            (r#"{"exp":[5]}"#, NumericDate::WrongType),
            (r#"{"exp":5.5}"#, NumericDate::Value(5.5)),
            (r#"{"exp":-1}"#, NumericDate::Value(-1.0)),
            (r#"{}"#, NumericDate::Absent),
        ];
        for (payload, want) in cases {
            let t = parse(&tok(header, payload), 16384).unwrap();
            assert_eq!(t.claims.exp, want, "{payload}");
        }
        let t = parse(&tok(header, r#"{"nbf":1,"iat":"2","sub":3}"#), 16384).unwrap();
        assert_eq!(t.claims.nbf, NumericDate::Value(1.0));
        assert_eq!(t.claims.iat, NumericDate::WrongType);
        assert_eq!(t.claims.sub, Text::WrongType);
        assert_eq!(t.claims.aud, Audience::Absent);
        let t = parse(&tok(header, r#"{"aud":"a","sub":"s"}"#), 16384).unwrap();
        assert_eq!(t.claims.aud, Audience::Values(vec!["a".into()]));
        assert_eq!(t.claims.sub, Text::Value("s".into()));
        let t = parse(&tok(header, r#"{"aud":["a",1]}"#), 16384).unwrap();
        assert_eq!(t.claims.aud, Audience::WrongType);
    }

    #[test]
    fn header_members() {
        let t = parse(&tok(r#"{"alg":5,"typ":7,"b64":"no"}"#, "{}"), 16384).unwrap();
        assert_eq!(t.header.alg, None);
        assert_eq!(t.header.typ, Text::WrongType);
        assert_eq!(t.header.b64, None);
        assert_eq!(t.header.kid, None);
        assert_eq!(t.header.crit, None);
        let token = tok(r#"{"alg":"ES256","b64":true}"#, r#"{"a":1}"#);
        let t = parse(&token, 16384).unwrap();
        assert_eq!(t.header.b64, Some(true));
        assert_eq!(t.header_json, r#"{"alg":"ES256","b64":true}"#);
        assert_eq!(t.payload_json, r#"{"a":1}"#);
        assert_eq!(&token[..t.signing_len], &token[..token.rfind('.').unwrap()]);
    }

    #[test]
    fn crit_naming_a_present_extension_is_well_formed() {
        let t = parse(
            &tok(r#"{"alg":"RS256","crit":["b64"],"b64":false}"#, "{}"),
            16384,
        )
        .unwrap();
        assert_eq!(t.header.crit, Some(vec!["b64".to_owned()]));
        assert_eq!(t.header.b64, Some(false));
    }
}
