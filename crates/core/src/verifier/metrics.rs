//! `metrics()`: a Verifier's counters ([`Stats`]) and each issuer's key health ([`IssuerHealth`])
//! in the Prometheus text exposition format (0.0.4), dependency-free, for a `/metrics` route or
//! an OpenTelemetry Prometheus receiver. URLs appear without credentials, query or fragment.

use std::fmt::Write;

use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::key_cache::HealthState;
use crate::verifier::report::{IssuerHealth, Stats};

/// Every metric name starts with this.
pub const PREFIX: &str = "jwks_verify_";

/// Labels the metrics set themselves; `labels` may not name them.
const OWN_LABELS: [&str; 4] = ["code", "issuer", "jwks_uri", "state"];

const STATES: [HealthState; 4] = [
    HealthState::Fresh,
    HealthState::Stale,
    HealthState::Failing,
    HealthState::Empty,
];

/// Constant labels from `metrics({ labels })`: an object of strings whose names are Prometheus
/// label names (`[a-zA-Z_][a-zA-Z0-9_]*`, not `__`-prefixed, not one of ours).
pub fn labels(options: &Value) -> Result<Vec<(String, String)>> {
    let bad = |why: String| Error::new(ErrorCode::InvalidOptions, why);
    let map = match options {
        Value::Null => return Ok(Vec::new()),
        Value::Object(map) => map,
        _ => return Err(bad("metrics options must be an object".to_owned())),
    };
    if let Some(key) = map.keys().find(|k| *k != "labels") {
        return Err(bad(format!(
            "unknown metrics option \"{key}\" (known: labels)"
        )));
    }
    let Some(labels) = map.get("labels") else {
        return Ok(Vec::new());
    };
    let Value::Object(labels) = labels else {
        return Err(bad(
            "metrics option \"labels\" must be an object of strings".to_owned(),
        ));
    };
    labels
        .iter()
        .map(|(name, value)| {
            let valid = name
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()));
            if name.is_empty() || !valid || name.starts_with("__") || OWN_LABELS.contains(&name.as_str()) {
                return Err(bad(format!(
                    "metrics label name \"{name}\" is not usable (letters, digits and _, not starting with a digit or __; not one of {})",
                    OWN_LABELS.join(", ")
                )));
            }
            match value {
                Value::String(v) => Ok((name.clone(), v.clone())),
                _ => Err(bad(format!("metrics label \"{name}\" must be a string"))),
            }
        })
        .collect()
}

/// The exposition text.
pub fn prometheus(stats: &Stats, health: &[IssuerHealth], labels: &[(String, String)]) -> String {
    let mut out = String::with_capacity(4096);
    let counters: [(&str, u64, &str); 15] = [
        (
            "verifications_total",
            stats.verifications,
            "Verifications (verify and verifySync), accepted or refused.",
        ),
        (
            "token_cache_hits_total",
            stats.token_cache_hits,
            "Verifications answered from the token cache.",
        ),
        (
            "fetches_total",
            stats.fetches,
            "JWKS fetches that succeeded (200 or 304).",
        ),
        (
            "not_modified_total",
            stats.not_modified,
            "JWKS fetches answered 304 Not Modified.",
        ),
        (
            "fetch_errors_total",
            stats.fetch_errors,
            "JWKS fetches that failed.",
        ),
        (
            "cooldown_refusals_total",
            stats.cooldown_refusals,
            "Unknown-kid refetches refused by the cooldown.",
        ),
        (
            "stale_serves_total",
            stats.stale_serves,
            "Verifications that used keys past their freshness.",
        ),
        (
            "revalidations_total",
            stats.revalidations,
            "Validation endpoint calls.",
        ),
        (
            "revalidation_hits_total",
            stats.revalidation_hits,
            "Verifications answered from a cached liveness answer.",
        ),
        (
            "inactive_total",
            stats.inactive,
            "Tokens a validation endpoint found inactive.",
        ),
        (
            "revalidation_errors_total",
            stats.revalidation_errors,
            "Validation endpoint failures.",
        ),
        (
            "shared_hits_total",
            stats.shared_hits,
            "Shared-tier (Redis) entries found and accepted.",
        ),
        (
            "shared_misses_total",
            stats.shared_misses,
            "Shared-tier lookups that found nothing.",
        ),
        (
            "shared_errors_total",
            stats.shared_errors,
            "Redis calls that failed or timed out, and shared entries refused.",
        ),
        (
            "lock_waits_total",
            stats.lock_waits,
            "Waits for another process's provider call.",
        ),
    ];
    for (name, value, help) in counters {
        header(&mut out, name, "counter", help);
        sample(&mut out, name, labels, &[], value as f64);
    }

    header(
        &mut out,
        "failures_total",
        "counter",
        "Refused verifications by error code.",
    );
    for code in ErrorCode::ALL {
        let n = stats
            .failures
            .iter()
            .find(|(c, _)| *c == code.as_str())
            .map_or(0, |(_, n)| *n);
        sample(
            &mut out,
            "failures_total",
            labels,
            &[("code", code.as_str())],
            n as f64,
        );
    }

    let issuers: Vec<(String, String, &IssuerHealth)> = health
        .iter()
        .map(|h| {
            let uri = h.jwks_uri.as_deref().map(shown_url).unwrap_or_default();
            (h.issuer.clone(), uri, h)
        })
        .collect();
    let per_issuer = |out: &mut String,
                      name: &str,
                      kind: &str,
                      help: &str,
                      value: &dyn Fn(&IssuerHealth) -> Option<f64>| {
        header(out, name, kind, help);
        for (issuer, uri, h) in &issuers {
            if let Some(v) = value(h) {
                sample(
                    out,
                    name,
                    labels,
                    &[("issuer", issuer), ("jwks_uri", uri)],
                    v,
                );
            }
        }
    };
    per_issuer(
        &mut out,
        "keys",
        "gauge",
        "Usable keys in each issuer's key set.",
        &|h| Some(h.kids.len() as f64),
    );
    per_issuer(
        &mut out,
        "skipped_keys",
        "gauge",
        "Keys of each issuer's JWKS that cannot be used (see health().skipped).",
        &|h| Some(h.skipped.len() as f64),
    );
    per_issuer(
        &mut out,
        "keys_fetched_timestamp_seconds",
        "gauge",
        "When each issuer's keys last arrived (Unix time).",
        &|h| h.fetched_at.map(|ms| ms as f64 / 1000.0),
    );
    per_issuer(
        &mut out,
        "keys_expiry_timestamp_seconds",
        "gauge",
        "When each issuer's keys stop being fresh (Unix time).",
        &|h| h.expires_at.map(|ms| ms as f64 / 1000.0),
    );
    header(
        &mut out,
        "key_set_state",
        "gauge",
        "The state of each issuer's keys: 1 for the current one of fresh, stale, failing, empty.",
    );
    for (issuer, uri, h) in &issuers {
        for state in STATES {
            sample(
                &mut out,
                "key_set_state",
                labels,
                &[
                    ("issuer", issuer),
                    ("jwks_uri", uri),
                    ("state", state.as_str()),
                ],
                if h.state == state { 1.0 } else { 0.0 },
            );
        }
    }
    if let Some(up) = health.iter().find_map(|h| h.shared_up) {
        header(
            &mut out,
            "shared_tier_up",
            "gauge",
            "1 while the shared tier (Redis) answers, 0 while it is skipped after failures.",
        );
        sample(
            &mut out,
            "shared_tier_up",
            labels,
            &[],
            if up { 1.0 } else { 0.0 },
        );
    }
    out
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {PREFIX}{name} {help}");
    let _ = writeln!(out, "# TYPE {PREFIX}{name} {kind}");
}

fn sample(
    out: &mut String,
    name: &str,
    constant: &[(String, String)],
    own: &[(&str, &str)],
    value: f64,
) {
    let _ = write!(out, "{PREFIX}{name}");
    let all: Vec<(&str, &str)> = constant
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(own.iter().copied())
        .collect();
    if !all.is_empty() {
        out.push('{');
        for (i, (k, v)) in all.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

/// A label value as the format wants it: `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A URL without credentials, query or fragment (a JWKS URL may carry an API key there).
fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(an unreadable URL)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn health(state: HealthState) -> IssuerHealth {
        IssuerHealth {
            issuer: "https://id.example.com/".into(),
            jwks_uri: Some("https://user:pw@id.example.com/jwks?key=secret#x".into()),
            state,
            kids: vec!["a".into(), "b".into()],
            fetched_at: Some(1_700_000_000_500),
            expires_at: None,
            last_error: None,
            shared_up: None,
            skipped: Vec::new(),
        }
    }

    #[test]
    fn exposition_text() {
        let stats = Stats {
            verifications: 12,
            failures: vec![("ERR_JWT_EXPIRED", 3)],
            fetches: 2,
            ..Stats::default()
        };
        let text = prometheus(
            &stats,
            &[health(HealthState::Stale)],
            &[("service".into(), "a\"b\\c\nd".into())],
        );
        for line in [
            "# HELP jwks_verify_verifications_total Verifications (verify and verifySync), accepted or refused.",
            "# TYPE jwks_verify_verifications_total counter",
            "jwks_verify_verifications_total{service=\"a\\\"b\\\\c\\nd\"} 12",
            "jwks_verify_failures_total{service=\"a\\\"b\\\\c\\nd\",code=\"ERR_JWT_EXPIRED\"} 3",
            "jwks_verify_failures_total{service=\"a\\\"b\\\\c\\nd\",code=\"ERR_JWS_INVALID\"} 0",
            "jwks_verify_keys{service=\"a\\\"b\\\\c\\nd\",issuer=\"https://id.example.com/\",jwks_uri=\"https://id.example.com/jwks\"} 2",
            "jwks_verify_keys_fetched_timestamp_seconds{service=\"a\\\"b\\\\c\\nd\",issuer=\"https://id.example.com/\",jwks_uri=\"https://id.example.com/jwks\"} 1700000000.5",
            "jwks_verify_key_set_state{service=\"a\\\"b\\\\c\\nd\",issuer=\"https://id.example.com/\",jwks_uri=\"https://id.example.com/jwks\",state=\"stale\"} 1",
            "jwks_verify_key_set_state{service=\"a\\\"b\\\\c\\nd\",issuer=\"https://id.example.com/\",jwks_uri=\"https://id.example.com/jwks\",state=\"fresh\"} 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n--\n{text}");
        }
        assert!(!text.contains("secret") && !text.contains("pw@"), "{text}");
        assert!(
            !text.contains("keys_expiry_timestamp_seconds{"),
            "no sample without a value"
        );
        assert!(!text.contains("shared_tier_up"), "only with shared");
        // Every sample line: name{labels} value; every name declared once.
        let mut declared = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap_or("");
                assert!(!declared.contains(&name.to_owned()), "{name} twice");
                declared.push(name.to_owned());
            } else if !line.starts_with("# HELP ") {
                assert!(line.starts_with(PREFIX), "{line}");
                assert!(
                    line.rsplit(' ')
                        .next()
                        .is_some_and(|v| v.parse::<f64>().is_ok()),
                    "{line}"
                );
            }
        }
        let plain = prometheus(&Stats::default(), &[], &[]);
        assert!(plain
            .lines()
            .any(|l| l == "jwks_verify_verifications_total 0"));
    }

    #[test]
    fn label_options() {
        assert_eq!(labels(&Value::Null).unwrap(), vec![]);
        assert_eq!(
            labels(&json!({"labels":{"service":"api","zone_2":"b"}})).unwrap(),
            vec![
                ("service".to_owned(), "api".to_owned()),
                ("zone_2".to_owned(), "b".to_owned())
            ]
        );
        for (bad, fragment) in [
            (json!({"labels":{"2x":"a"}}), "\"2x\" is not usable"),
            (json!({"labels":{"__x":"a"}}), "\"__x\" is not usable"),
            (json!({"labels":{"issuer":"a"}}), "\"issuer\" is not usable"),
            (json!({"labels":{"a-b":"a"}}), "\"a-b\" is not usable"),
            (json!({"labels":{"a":1}}), "\"a\" must be a string"),
            (json!({"labels":[]}), "must be an object of strings"),
            (json!({"label":{}}), "unknown metrics option \"label\""),
            (json!(5), "must be an object"),
        ] {
            let e = labels(&bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidOptions);
            assert!(e.message.contains(fragment), "{bad}: {}", e.message);
        }
    }
}
