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
                format!(
                    "unexpected \"aud\" claim value [{}] (expected {}{})",
                    quoted_list(got),
                    if want.len() == 1 { "" } else { "one of " },
                    quoted_list(want)
                ),
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
        if expired(exp, tolerance, now) {
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
        if too_old(iat, max_age, tolerance, now) {
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

/// `now` for [`check`] and [`check_times`]: epoch milliseconds as seconds.
pub fn seconds(now_ms: u64) -> f64 {
    now_ms as f64 / 1000.0
}

/// The `exp` check of [`check_times`]: true once `exp` has passed, beyond the tolerance.
fn expired(exp: f64, tolerance: f64, now: f64) -> bool {
    exp <= now - tolerance
}

/// The `maxTokenAge` check of [`check_times`]: true once the token is older than `max_age`
/// (the tolerance lengthens the accepted age).
fn too_old(iat: f64, max_age: f64, tolerance: f64, now: f64) -> bool {
    now - iat - tolerance > max_age
}

/// The first instant (epoch ms, as [`seconds`] reads it) at which [`check_times`] stops passing
/// because time has moved on: `exp` (with the tolerance) or `maxTokenAge` (with `iat`). `None`
/// when neither limits these times. The other checks (`nbf`, `iat` in the future) only start to
/// pass as time moves on, so they set no end. `Some(0)` when `maxTokenAge` is set and `iat` is
/// absent (the checks never pass).
pub fn times_fail_at_ms(times: &Times, rules: &ClaimRules) -> Option<u64> {
    let tolerance = rules.clock_tolerance;
    let exp = times
        .exp
        .map(|exp| first_failing_ms(exp + tolerance, |now| expired(exp, tolerance, now)));
    let age = match (rules.max_token_age, times.iat) {
        (None, _) => None,
        (Some(_), None) => Some(0),
        (Some(max_age), Some(iat)) => Some(first_failing_ms(iat + tolerance + max_age, |now| {
            too_old(iat, max_age, tolerance, now)
        })),
    };
    exp.into_iter().chain(age).min()
}

/// The smallest whole millisecond `m` at which `fails(seconds(m))` holds, for a check that holds
/// from some instant on; `estimate_s` is that instant in seconds. The estimate is corrected step
/// by step against `fails` itself, so float rounding cannot make it disagree with the check; if
/// the steps run out, the answer errs early (0 when it would err late).
fn first_failing_ms(estimate_s: f64, fails: impl Fn(f64) -> bool) -> u64 {
    /// 2^53 ms: beyond it a millisecond is not exact in an f64 (the year 287,396).
    const EXACT_MS: f64 = 9_007_199_254_740_992.0;
    const STEPS: usize = 8;
    let estimate = (estimate_s * 1000.0).ceil();
    if estimate.is_nan() {
        return 0;
    }
    if estimate >= EXACT_MS {
        return u64::MAX;
    }
    // A negative estimate saturates to 0.
    let mut m = estimate as u64;
    for _ in 0..STEPS {
        if m == 0 || !fails(seconds(m - 1)) {
            break;
        }
        m -= 1;
    }
    if m > 0 && fails(seconds(m - 1)) {
        return 0;
    }
    for _ in 0..STEPS {
        if fails(seconds(m)) {
            break;
        }
        m += 1;
    }
    m
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

/// At most this many values, each cut to this many characters, in an `aud` message: the token's
/// values come from a signed token, but a message stays short.
const LISTED_VALUES: usize = 5;
const LISTED_CHARS: usize = 64;

/// `"api", "admin"`: JSON-quoted values for a message, bounded in count and length.
fn quoted_list(values: &[String]) -> String {
    let mut parts: Vec<String> = values
        .iter()
        .take(LISTED_VALUES)
        .map(|v| {
            let cut: String = v.chars().take(LISTED_CHARS).collect();
            let mut quoted = serde_json::to_string(&cut).unwrap_or_else(|_| "\"?\"".to_owned());
            if cut.len() < v.len() {
                quoted.insert(quoted.len() - 1, '…');
            }
            quoted
        })
        .collect();
    if values.len() > LISTED_VALUES {
        parts.push(format!("… {} more", values.len() - LISTED_VALUES));
    }
    parts.join(", ")
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

    /// `(label, times, clock tolerance, maxTokenAge, expected failure (code, claim))`.
    type TimeCase = (
        &'static str,
        Times,
        f64,
        Option<f64>,
        Option<(ErrorCode, &'static str)>,
    );

    #[test]
    fn time_boundaries() {
        const NOW: f64 = 1_000_000.0;
        let t = |exp: Option<f64>, nbf: Option<f64>, iat: Option<f64>| Times { exp, nbf, iat };
        let nbf_fail = Some((ErrorCode::ClaimValidationFailed, "nbf"));
        let iat_fail = Some((ErrorCode::ClaimValidationFailed, "iat"));
        let exp_fail = Some((ErrorCode::Expired, "exp"));
        let too_old = Some((ErrorCode::Expired, "iat"));
        let cases: Vec<TimeCase> = vec![
            ("nbf now", t(None, Some(NOW), None), 0.0, None, None),
            (
                "nbf now + 1",
                t(None, Some(NOW + 1.0), None),
                0.0,
                None,
                nbf_fail,
            ),
            (
                "nbf at now + tolerance",
                t(None, Some(NOW + 10.0), None),
                10.0,
                None,
                None,
            ),
            (
                "nbf within tolerance",
                t(None, Some(NOW + 5.0), None),
                10.0,
                None,
                None,
            ),
            (
                "nbf one past tolerance",
                t(None, Some(NOW + 11.0), None),
                10.0,
                None,
                nbf_fail,
            ),
            (
                "nbf past",
                t(None, Some(NOW - 100.0), None),
                0.0,
                None,
                None,
            ),
            ("iat now", t(None, None, Some(NOW)), 0.0, None, None),
            (
                "iat now + 1",
                t(None, None, Some(NOW + 1.0)),
                0.0,
                None,
                iat_fail,
            ),
            (
                "iat at now + tolerance",
                t(None, None, Some(NOW + 10.0)),
                10.0,
                None,
                None,
            ),
            (
                "iat one past tolerance",
                t(None, None, Some(NOW + 11.0)),
                10.0,
                None,
                iat_fail,
            ),
            (
                "exp now + 1",
                t(Some(NOW + 1.0), None, None),
                0.0,
                None,
                None,
            ),
            ("exp now", t(Some(NOW), None, None), 0.0, None, exp_fail),
            (
                "exp at now - tolerance",
                t(Some(NOW - 10.0), None, None),
                10.0,
                None,
                exp_fail,
            ),
            (
                "exp just inside tolerance",
                t(Some(NOW - 9.0), None, None),
                10.0,
                None,
                None,
            ),
            (
                "age = max",
                t(None, None, Some(NOW - 60.0)),
                0.0,
                Some(60.0),
                None,
            ),
            (
                "age = max + 1",
                t(None, None, Some(NOW - 61.0)),
                0.0,
                Some(60.0),
                too_old,
            ),
            // Tolerance lengthens the accepted age: it is subtracted from the age, not added.
            (
                "age = max + tolerance",
                t(None, None, Some(NOW - 70.0)),
                10.0,
                Some(60.0),
                None,
            ),
            (
                "age = max + tolerance + 1",
                t(None, None, Some(NOW - 71.0)),
                10.0,
                Some(60.0),
                too_old,
            ),
            (
                "age below max, tolerance",
                t(None, None, Some(NOW - 55.0)),
                10.0,
                Some(60.0),
                None,
            ),
            (
                "maxTokenAge without iat",
                t(None, None, None),
                0.0,
                Some(60.0),
                Some((ErrorCode::ClaimValidationFailed, "iat")),
            ),
            ("nothing to check", t(None, None, None), 0.0, None, None),
        ];
        for (label, times, tolerance, max_age, want) in cases {
            let rules = ClaimRules {
                clock_tolerance: tolerance,
                max_token_age: max_age,
                ..ClaimRules::default()
            };
            let got = check_times(&times, &rules, NOW);
            match want {
                None => assert!(got.is_ok(), "{label}: {got:?}"),
                Some((code, claim)) => {
                    let err = got.expect_err(label);
                    assert_eq!(
                        (err.code, err.claim.as_deref()),
                        (code, Some(claim)),
                        "{label}"
                    );
                }
            }
        }
    }

    #[test]
    fn times_fail_at_the_instant_check_times_starts_to_fail() {
        // (label, exp, iat, clock tolerance, maxTokenAge): the times pass now; the answer must be
        // the first millisecond at which check_times fails, as the token cache reads time.
        type EndCase = (&'static str, Option<f64>, Option<f64>, f64, Option<f64>);
        const NOW: f64 = 1_700_000_000.0;
        let cases: Vec<EndCase> = vec![
            ("exp", Some(NOW + 60.0), None, 0.0, None),
            (
                "exp with a fraction",
                Some(NOW + 60.123_456),
                None,
                0.0,
                None,
            ),
            ("exp with tolerance", Some(NOW + 1.0), None, 30.0, None),
            (
                "exp with a fractional tolerance",
                Some(NOW + 7.0),
                None,
                1.5,
                None,
            ),
            (
                "exp past, inside tolerance",
                Some(NOW - 5.0),
                None,
                10.0,
                None,
            ),
            ("maxTokenAge", None, Some(NOW - 10.0), 0.0, Some(60.0)),
            (
                "maxTokenAge with tolerance",
                None,
                Some(NOW - 10.0),
                5.0,
                Some(60.0),
            ),
            (
                "maxTokenAge, fractions",
                None,
                Some(NOW - 0.3),
                0.25,
                Some(0.5),
            ),
            ("exp first", Some(NOW + 30.0), Some(NOW), 0.0, Some(3600.0)),
            ("age first", Some(NOW + 3600.0), Some(NOW), 0.0, Some(30.0)),
            ("exp year 9999", Some(253_402_300_799.0), None, 0.0, None),
        ];
        for (label, exp, iat, tolerance, max_age) in cases {
            let times = Times {
                exp,
                nbf: Some(NOW - 100.0),
                iat,
            };
            let rules = ClaimRules {
                clock_tolerance: tolerance,
                max_token_age: max_age,
                ..ClaimRules::default()
            };
            assert!(
                check_times(&times, &rules, NOW).is_ok(),
                "{label}: passes now"
            );
            let at = times_fail_at_ms(&times, &rules).expect(label);
            assert!(
                check_times(&times, &rules, seconds(at)).is_err(),
                "{label}: fails at {at}"
            );
            assert!(
                check_times(&times, &rules, seconds(at - 1)).is_ok(),
                "{label}: passes 1 ms before {at}"
            );
        }
        let rules = ClaimRules::default();
        let only_nbf = Times {
            nbf: Some(NOW),
            ..Times::default()
        };
        assert_eq!(times_fail_at_ms(&only_nbf, &rules), None, "no end");
        let ageless = ClaimRules {
            max_token_age: Some(60.0),
            ..ClaimRules::default()
        };
        assert_eq!(
            times_fail_at_ms(&Times::default(), &ageless),
            Some(0),
            "maxTokenAge without iat never passes"
        );
        let far = Times {
            exp: Some(1e300),
            ..Times::default()
        };
        assert_eq!(times_fail_at_ms(&far, &rules), Some(u64::MAX));
        let long_gone = Times {
            exp: Some(-1e300),
            ..Times::default()
        };
        assert_eq!(times_fail_at_ms(&long_gone, &rules), Some(0));
    }

    #[test]
    fn claim_types_and_subject() {
        let run = |edit: &dyn Fn(&mut Claims, &mut ClaimRules)| {
            let (mut c, mut r) = (claims(&[]), ClaimRules::default());
            edit(&mut c, &mut r);
            check(&Text::Absent, &c, &r, 0.0).map(|_| ()).map_err(|e| {
                (
                    e.code,
                    e.claim.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                )
            })
        };
        let invalid = |claim: &str| {
            Err((
                ErrorCode::ClaimValidationFailed,
                claim.to_owned(),
                "invalid".to_owned(),
            ))
        };
        assert_eq!(run(&|c, _| c.nbf = NumericDate::WrongType), invalid("nbf"));
        assert_eq!(run(&|c, _| c.iat = NumericDate::WrongType), invalid("iat"));
        assert_eq!(run(&|c, _| c.sub = Text::WrongType), invalid("sub"));
        assert_eq!(
            run(&|c, r| {
                c.sub = Text::WrongType;
                r.subject = Some("u".into())
            }),
            invalid("sub")
        );
        assert_eq!(
            run(&|_, r| r.subject = Some("u".into())).map_err(|e| e.2),
            Err("missing".to_owned())
        );
        assert!(run(&|c, r| {
            c.sub = Text::Value("u".into());
            r.subject = Some("u".into())
        })
        .is_ok());
        assert!(run(&|c, _| c.sub = Text::Value("anyone".into())).is_ok());
        assert!(
            run(&|c, _| c.aud = Audience::Values(vec!["x".into()])).is_ok(),
            "aud is not checked without an audience rule"
        );
        let times = check(
            &Text::Absent,
            &Claims {
                exp: NumericDate::Value(5.0),
                nbf: NumericDate::Value(-3.0),
                iat: NumericDate::Value(-2.0),
                ..claims(&[])
            },
            &ClaimRules::default(),
            0.0,
        )
        .unwrap();
        assert_eq!(
            (times.exp, times.nbf, times.iat),
            (Some(5.0), Some(-3.0), Some(-2.0))
        );
    }

    #[test]
    fn typ_is_normalised() {
        for (given, want) in [
            ("JWT", "jwt"),
            ("at+JWT", "at+jwt"),
            ("application/at+jwt", "at+jwt"),
            ("APPLICATION/AT+JWT", "at+jwt"),
            ("application/", ""),
            ("app/jwt", "app/jwt"),
            ("x-application/jwt", "x-application/jwt"),
        ] {
            assert_eq!(normalize_typ(given), want, "{given}");
        }
        let rules = ClaimRules {
            typ: Some("at+jwt".into()),
            ..ClaimRules::default()
        };
        let c = claims(&[]);
        assert!(check(&Text::Value("Application/AT+jwt".into()), &c, &rules, 0.0).is_ok());
        let err = check(&Text::WrongType, &c, &rules, 0.0).unwrap_err();
        assert_eq!(err.reason.as_deref(), Some("check_failed"));
        let no_rule = ClaimRules::default();
        assert!(
            check(&Text::WrongType, &c, &no_rule, 0.0).is_ok(),
            "typ unchecked without a rule"
        );
    }

    #[test]
    fn durations_in_messages() {
        for (seconds, want) in [
            (0.0, "0 s"),
            (-5.0, "0 s"),
            (59.4, "59 s"),
            (60.0, "1 min 0 s"),
            (3599.0, "59 min 59 s"),
            (3600.0, "1 h 0 min"),
            (7500.0, "2 h 5 min"),
        ] {
            assert_eq!(ago(seconds), want, "{seconds}");
        }
        let rules = ClaimRules {
            max_token_age: Some(60.0),
            ..ClaimRules::default()
        };
        let old = Times {
            iat: Some(0.0),
            ..Times::default()
        };
        let err = check_times(&old, &rules, 200.0).unwrap_err();
        assert_eq!(
            err.message,
            "\"iat\" claim timestamp check failed: the token is 3 min 20 s old, maxTokenAge is 60 s"
        );
        let future = Times {
            nbf: Some(130.0),
            ..Times::default()
        };
        let err = check_times(&future, &rules, 10.0).unwrap_err();
        assert!(
            err.message.ends_with("valid only in 2 min 0 s"),
            "{}",
            err.message
        );
    }

    #[test]
    fn aud_message_names_the_expected_values() {
        let run = |got: Vec<String>, want: Vec<String>| {
            let mut c = claims(&[]);
            c.aud = Audience::Values(got);
            let r = ClaimRules {
                audience: Some(want),
                ..ClaimRules::default()
            };
            check(&Text::Absent, &c, &r, 0.0).unwrap_err().message
        };
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            run(s(&["x"]), s(&["api", "admin"])),
            "unexpected \"aud\" claim value [\"x\"] (expected one of \"api\", \"admin\")"
        );
        assert_eq!(
            run(s(&["x", "y\"z"]), s(&["api"])),
            "unexpected \"aud\" claim value [\"x\", \"y\\\"z\"] (expected \"api\")"
        );
        let long = "a".repeat(200);
        let many: Vec<String> = (0..8).map(|i| format!("v{i}")).collect();
        let msg = run([vec![long], many].concat(), s(&["api"]));
        assert!(msg.len() < 200, "bounded: {msg}");
        assert!(msg.contains("…\", \"v0\""), "long value cut: {msg}");
        assert!(msg.contains("… 4 more]"), "count bounded: {msg}");
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
