//! Claim checks, in the documented order: `typ`, required claims, `sub`, `aud`, then times.

use crate::error::{Error, ErrorCode, Result};
use crate::token::{Audience, Claims, NumericDate, Text};

/// The claim rules of one issuer (after option parsing).
#[derive(Debug, Clone, Default)]
pub struct ClaimRules {
    /// Accepted audiences: the token's `aud` must contain one. `None`: not checked.
    pub audience: Option<Vec<String>>,
    /// Expected `sub`.
    pub subject: Option<String>,
    /// Expected `typ`, normalised (lower case, without `application/`).
    pub typ: Option<String>,
    /// Claims that must be present (default `["exp"]`).
    pub required: Vec<String>,
    /// Seconds of leeway for `exp`, `nbf`, `iat`.
    pub clock_tolerance: f64,
    /// Oldest accepted `iat`, in seconds of age.
    pub max_token_age: Option<f64>,
}

/// The time claims, kept to be rechecked on every token-cache hit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub exp: Option<f64>,
    pub nbf: Option<f64>,
    pub iat: Option<f64>,
}

/// Normalise a `typ` value: case-insensitive, `application/` optional.
pub fn normalize_typ(typ: &str) -> String {
    let lower = typ.to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_owned(),
        None => lower,
    }
}

/// Check every claim rule; `now` in seconds. Returns the time claims for the token cache.
pub fn check(typ: &Text, claims: &Claims, rules: &ClaimRules, now: f64) -> Result<Times> {
    if let Some(want) = &rules.typ {
        match typ {
            Text::Value(got) if normalize_typ(got) == *want => {}
            Text::Absent => {
                return Err(claim_failed(
                    "typ",
                    "missing",
                    "missing required \"typ\" JWT header",
                ))
            }
            _ => {
                return Err(claim_failed(
                    "typ",
                    "check_failed",
                    "unexpected \"typ\" JWT header value",
                ))
            }
        }
    }
    for name in &rules.required {
        if !claims.names.iter().any(|n| n == name) {
            return Err(claim_failed(
                name,
                "missing",
                format!("missing required \"{name}\" claim"),
            ));
        }
    }
    if let Some(want) = &rules.subject {
        match &claims.sub {
            Text::Value(got) if got == want => {}
            Text::Absent => {
                return Err(claim_failed(
                    "sub",
                    "missing",
                    "missing required \"sub\" claim",
                ))
            }
            Text::WrongType => return Err(wrong_type("sub", "a string")),
            Text::Value(_) => {
                return Err(claim_failed(
                    "sub",
                    "check_failed",
                    "unexpected \"sub\" claim value",
                ))
            }
        }
    } else if claims.sub == Text::WrongType {
        return Err(wrong_type("sub", "a string"));
    }
    match (&rules.audience, &claims.aud) {
        (_, Audience::WrongType) => {
            return Err(wrong_type("aud", "a string or an array of strings"))
        }
        (Some(_), Audience::Absent) => {
            return Err(claim_failed(
                "aud",
                "missing",
                "missing required \"aud\" claim",
            ))
        }
        (Some(want), Audience::Values(got)) if !got.iter().any(|a| want.contains(a)) => {
            return Err(claim_failed(
                "aud",
                "check_failed",
                "unexpected \"aud\" claim value",
            ))
        }
        _ => {}
    }
    let times = Times {
        exp: date(claims.exp, "exp")?,
        nbf: date(claims.nbf, "nbf")?,
        iat: date(claims.iat, "iat")?,
    };
    check_times(&times, rules, now)?;
    Ok(times)
}

/// The time checks alone (also run on every token-cache hit).
pub fn check_times(times: &Times, rules: &ClaimRules, now: f64) -> Result<()> {
    let tolerance = rules.clock_tolerance;
    if let Some(nbf) = times.nbf {
        if nbf > now + tolerance {
            return Err(claim_failed(
                "nbf",
                "check_failed",
                format!(
                    "\"nbf\" claim timestamp check failed: the token is valid only in {}",
                    ago(nbf - now)
                ),
            ));
        }
    }
    if let Some(exp) = times.exp {
        if exp <= now - tolerance {
            return Err(Error::claim(
                ErrorCode::Expired,
                "exp",
                "check_failed",
                format!(
                    "\"exp\" claim timestamp check failed: the token expired {} ago",
                    ago(now - exp)
                ),
            ));
        }
    }
    if let Some(iat) = times.iat {
        if iat > now + tolerance {
            return Err(claim_failed(
                "iat",
                "check_failed",
                format!(
                    "\"iat\" claim timestamp check failed: issued {} in the future",
                    ago(iat - now)
                ),
            ));
        }
    }
    if let Some(max_age) = rules.max_token_age {
        let Some(iat) = times.iat else {
            return Err(claim_failed(
                "iat",
                "missing",
                "missing required \"iat\" claim (maxTokenAge is set)",
            ));
        };
        if now - iat - tolerance > max_age {
            return Err(Error::claim(
                ErrorCode::Expired,
                "iat",
                "check_failed",
                format!("\"iat\" claim timestamp check failed: the token is {} old, maxTokenAge is {max_age} s", ago(now - iat)),
            ));
        }
    }
    Ok(())
}

fn date(value: NumericDate, name: &str) -> Result<Option<f64>> {
    match value {
        NumericDate::Absent => Ok(None),
        NumericDate::Value(v) => Ok(Some(v)),
        NumericDate::WrongType => Err(wrong_type(name, "a number (NumericDate)")),
    }
}

fn claim_failed(claim: &str, reason: &str, message: impl Into<String>) -> Error {
    Error::claim(ErrorCode::ClaimValidationFailed, claim, reason, message)
}

fn wrong_type(claim: &str, what: &str) -> Error {
    claim_failed(
        claim,
        "invalid",
        format!("\"{claim}\" claim must be {what}"),
    )
}

/// A human duration: `42 s`, `3 min 20 s`, `2 h 5 min`.
fn ago(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(names: &[&str]) -> Claims {
        Claims {
            names: names.iter().map(|s| s.to_string()).collect(),
            ..Claims::default()
        }
    }

    fn rules() -> ClaimRules {
        ClaimRules {
            required: vec!["exp".into()],
            ..ClaimRules::default()
        }
    }

    #[test]
    fn table() {
        const NOW: f64 = 1_000_000.0;
        let now = NOW;
        let base = || {
            let mut c = claims(&["exp", "iat"]);
            c.exp = NumericDate::Value(now + 60.0);
            c.iat = NumericDate::Value(now - 10.0);
            c
        };
        type Case = (
            &'static str,
            Box<dyn Fn(&mut Claims, &mut ClaimRules, &mut Text)>,
            Option<(ErrorCode, &'static str, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            ("valid", Box::new(|_, _, _| {}), None),
            (
                "expired",
                Box::new(|c, _, _| c.exp = NumericDate::Value(NOW - 1.0)),
                Some((ErrorCode::Expired, "exp", "check_failed")),
            ),
            (
                "exp == now",
                Box::new(|c, _, _| c.exp = NumericDate::Value(NOW)),
                Some((ErrorCode::Expired, "exp", "check_failed")),
            ),
            (
                "expired within tolerance",
                Box::new(|c, r, _| {
                    c.exp = NumericDate::Value(NOW - 5.0);
                    r.clock_tolerance = 10.0
                }),
                None,
            ),
            (
                "exp a string",
                Box::new(|c, _, _| c.exp = NumericDate::WrongType),
                Some((ErrorCode::ClaimValidationFailed, "exp", "invalid")),
            ),
            (
                "exp missing",
                Box::new(|c, _, _| {
                    c.names.retain(|n| n != "exp");
                    c.exp = NumericDate::Absent
                }),
                Some((ErrorCode::ClaimValidationFailed, "exp", "missing")),
            ),
            (
                "exp not required",
                Box::new(|c, r, _| {
                    c.names.clear();
                    c.exp = NumericDate::Absent;
                    r.required.clear()
                }),
                None,
            ),
            (
                "nbf future",
                Box::new(|c, _, _| c.nbf = NumericDate::Value(NOW + 30.0)),
                Some((ErrorCode::ClaimValidationFailed, "nbf", "check_failed")),
            ),
            (
                "iat future",
                Box::new(|c, _, _| c.iat = NumericDate::Value(NOW + 30.0)),
                Some((ErrorCode::ClaimValidationFailed, "iat", "check_failed")),
            ),
            (
                "too old",
                Box::new(|_, r, _| r.max_token_age = Some(5.0)),
                Some((ErrorCode::Expired, "iat", "check_failed")),
            ),
            (
                "young enough",
                Box::new(|_, r, _| r.max_token_age = Some(60.0)),
                None,
            ),
            (
                "aud ok",
                Box::new(|c, r, _| {
                    c.aud = Audience::Values(vec!["x".into(), "a".into()]);
                    r.audience = Some(vec!["a".into()])
                }),
                None,
            ),
            (
                "aud wrong",
                Box::new(|c, r, _| {
                    c.aud = Audience::Values(vec!["x".into()]);
                    r.audience = Some(vec!["a".into()])
                }),
                Some((ErrorCode::ClaimValidationFailed, "aud", "check_failed")),
            ),
            (
                "aud missing",
                Box::new(|_, r, _| r.audience = Some(vec!["a".into()])),
                Some((ErrorCode::ClaimValidationFailed, "aud", "missing")),
            ),
            (
                "aud number",
                Box::new(|c, _, _| c.aud = Audience::WrongType),
                Some((ErrorCode::ClaimValidationFailed, "aud", "invalid")),
            ),
            (
                "sub wrong",
                Box::new(|c, r, _| {
                    c.sub = Text::Value("u".into());
                    r.subject = Some("v".into())
                }),
                Some((ErrorCode::ClaimValidationFailed, "sub", "check_failed")),
            ),
            (
                "typ ok",
                Box::new(|_, r, t| {
                    r.typ = Some(normalize_typ("application/at+JWT"));
                    *t = Text::Value("at+jwt".into())
                }),
                None,
            ),
            (
                "typ absent",
                Box::new(|_, r, _| r.typ = Some("at+jwt".into())),
                Some((ErrorCode::ClaimValidationFailed, "typ", "missing")),
            ),
            (
                "typ wrong",
                Box::new(|_, r, t| {
                    r.typ = Some("at+jwt".into());
                    *t = Text::Value("JWT".into())
                }),
                Some((ErrorCode::ClaimValidationFailed, "typ", "check_failed")),
            ),
            (
                "custom required",
                Box::new(|_, r, _| r.required.push("scope".into())),
                Some((ErrorCode::ClaimValidationFailed, "scope", "missing")),
            ),
        ];
        for (label, edit, want) in cases {
            let (mut c, mut r, mut typ) = (base(), rules(), Text::Absent);
            edit(&mut c, &mut r, &mut typ);
            let got = check(&typ, &c, &r, now);
            match want {
                None => assert!(got.is_ok(), "{label}: {got:?}"),
                Some((code, claim, reason)) => {
                    let err = got.expect_err(label);
                    assert_eq!(
                        (err.code, err.claim.as_deref(), err.reason.as_deref()),
                        (code, Some(claim), Some(reason)),
                        "{label}: {}",
                        err.message
                    );
                }
            }
        }
    }

    #[test]
    fn messages_say_how_much() {
        let mut c = claims(&["exp"]);
        c.exp = NumericDate::Value(800.0);
        let err = check(&Text::Absent, &c, &rules(), 1000.0).unwrap_err();
        assert_eq!(
            err.message,
            "\"exp\" claim timestamp check failed: the token expired 3 min 20 s ago"
        );
    }
}
