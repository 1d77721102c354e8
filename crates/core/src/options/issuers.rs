//! The issuers of the options: the top-level form (`issuer`, `jwksUri`, `audience`,
//! `algorithms`) or the `issuers` array, each with its key source, algorithms and audience.

use crate::algorithm::Algorithm;
use crate::claims::ClaimRules;
use crate::discovery;
use crate::error::{Error, ErrorCode, Result};
use crate::fetch::{check_url, HttpOptions};
use crate::keyset::KeySet;
use crate::options::reader::{Field, Object};
use crate::revalidate::options::{self as revalidate, Mode, RevalidateOptions};

const ISSUER_KEYS: [&str; 4] = ["issuer", "jwksUri", "audience", "algorithms"];
/// What an `issuers[]` entry may hold.
const ENTRY_KEYS: [&str; 5] = ["issuer", "jwksUri", "audience", "algorithms", "revalidate"];

/// Where an issuer's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS URL.
    Remote(String),
    /// Discover `jwks_uri` from this OpenID configuration URL.
    Discovery(String),
    /// The local `keys` set.
    Local,
    /// No asymmetric keys (HS* with `secret` only).
    None,
}

/// One accepted issuer (or the single unnamed one when `iss` is not checked).
#[derive(Debug, Clone)]
pub struct IssuerOptions {
    /// The exact `iss` accepted; `None` when `iss` is not checked.
    pub issuer: Option<String>,
    /// Where the keys come from.
    pub source: KeySource,
    /// Accepted algorithms. Defaults to every asymmetric algorithm.
    pub algorithms: Vec<Algorithm>,
    /// Claim rules (audience is per issuer).
    pub rules: ClaimRules,
    /// Token liveness (`revalidate`): the entry's own, else the top level's. Defaults to none.
    pub revalidate: Option<RevalidateOptions>,
}

/// Every issuer entry, checked against the `secret` and local keys given.
pub fn parse(
    o: &Object<'_>,
    shared_rules: &ClaimRules,
    http: &HttpOptions,
    secret: Option<&[u8]>,
    local: Option<&KeySet>,
) -> Result<Vec<IssuerOptions>> {
    let uses_issuers = o.has("issuers");
    // In the `issuers` form a top-level `revalidate` is every entry's default; each entry has
    // an issuer there, so an introspection endpoint can be discovered.
    let shared_revalidate = if uses_issuers {
        revalidate::parse(o, Some("(each issuer)"), http)?
    } else {
        None
    };
    let entries: Vec<Object<'_>> = match o.get("issuers") {
        None => vec![o.clone()],
        Some(list) => {
            if let Some(name) = ISSUER_KEYS.iter().find(|k| o.has(k)) {
                return Err(Error::options(
                    name,
                    "cannot be combined with \"issuers\": put it inside each entry of \"issuers\"",
                ));
            }
            let Some(items) = list.value.as_array() else {
                return Err(list.error("must be an array of issuer options"));
            };
            if items.is_empty() {
                return Err(list.error("must not be empty"));
            }
            let mut entries = Vec::new();
            for (i, value) in items.iter().enumerate() {
                let entry = Field {
                    path: format!("{}[{i}]", list.path),
                    value,
                }
                .object()?;
                entry.check_keys(&ENTRY_KEYS)?;
                if !entry.has("issuer") {
                    return Err(Error::options(&entry.path("issuer"), "is required"));
                }
                entries.push(entry);
            }
            entries
        }
    };
    let mut issuers: Vec<IssuerOptions> = Vec::new();
    for entry in entries {
        let issuer = entry.string("issuer")?;
        if let Some(iss) = &issuer {
            if iss.is_empty() {
                return Err(Error::options(&entry.path("issuer"), "must not be empty"));
            }
            if issuers.iter().any(|i| i.issuer.as_deref() == Some(iss)) {
                return Err(Error::options(
                    &entry.path("issuer"),
                    format!("repeats the issuer {iss:?}"),
                ));
            }
        }
        let algorithms = match entry.get("algorithms") {
            None => Algorithm::ASYMMETRIC.to_vec(),
            Some(f) => parse_algorithms(&f)?,
        };
        check_hmac(&entry, &algorithms, secret, local)?;
        let source = key_source(&entry, issuer.as_deref(), &algorithms, http, local)?;
        let audience = entry
            .get("audience")
            .map(|f| f.string_or_list())
            .transpose()?;
        let revalidate = revalidate::parse(&entry, issuer.as_deref(), http)?
            .or_else(|| shared_revalidate.clone());
        if let (Some(r), Some(iss)) = (&revalidate, &issuer) {
            if matches!(r.mode, Mode::Introspection { endpoint: None, .. }) {
                let url = discovery::url_of(iss);
                check_url(&url, http.allow_http).map_err(|why| {
                    Error::options(
                        &entry.path("issuer"),
                        format!("cannot be used to discover the introspection endpoint: {url} {why}; or give \"revalidate.introspection.endpoint\""),
                    )
                })?;
            }
        }
        issuers.push(IssuerOptions {
            issuer,
            source,
            algorithms,
            rules: ClaimRules {
                audience,
                ..shared_rules.clone()
            },
            revalidate,
        });
    }
    let only = &issuers[0];
    if !uses_issuers
        && only.issuer.is_none()
        && matches!(only.source, KeySource::None)
        && secret.is_none()
        && !only.revalidate.as_ref().is_some_and(|r| r.opaque)
    {
        return Err(Error::new(
            ErrorCode::InvalidOptions,
            "options need a key source: \"issuer\" (discovery), \"jwksUri\", \"issuers\", \"keys\", \"secret\", or \"revalidate\" with \"opaque\": true",
        ));
    }
    if secret.is_some()
        && !issuers
            .iter()
            .any(|i| i.algorithms.iter().any(|a| a.is_hmac()))
    {
        return Err(Error::options(
            "secret",
            "is given but \"algorithms\" names no HS* algorithm (HS256, HS384, HS512)",
        ));
    }
    Ok(issuers)
}

/// HS* algorithms need a `secret` (long enough for each) or a local `oct` key.
fn check_hmac(
    entry: &Object<'_>,
    algorithms: &[Algorithm],
    secret: Option<&[u8]>,
    local: Option<&KeySet>,
) -> Result<()> {
    // A local oct key serves the HS* algorithms its length (and its own `alg`) allow.
    let has_local_oct =
        |alg: &Algorithm| local.is_some_and(|k| k.candidates(*alg, None).next().is_some());
    // Without a secret, at least one HS* algorithm listed must have a local oct key for it (a
    // token of another is then refused at verification, like any token without a key).
    let hmac: Vec<&Algorithm> = algorithms.iter().filter(|a| a.is_hmac()).collect();
    let unserved = !hmac.is_empty() && secret.is_none() && !hmac.iter().any(|a| has_local_oct(a));
    if unserved {
        return Err(Error::options(
            &entry.path("algorithms"),
            "names an HS* algorithm but no \"secret\" (or local \"oct\" key) is given",
        ));
    }
    if let Some(secret) = secret {
        for alg in algorithms.iter().filter(|a| a.is_hmac()) {
            if secret.len() < alg.min_secret_len() {
                return Err(Error::options(
                    "secret",
                    format!(
                        "is {} bytes; {} needs at least {} bytes",
                        secret.len(),
                        alg.name(),
                        alg.min_secret_len()
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `jwksUri`, the local `keys`, discovery from `issuer`, or nothing (HS* only).
fn key_source(
    entry: &Object<'_>,
    issuer: Option<&str>,
    algorithms: &[Algorithm],
    http: &HttpOptions,
    local: Option<&KeySet>,
) -> Result<KeySource> {
    if let Some(f) = entry.get("jwksUri") {
        let uri = f.string()?;
        check_url(&uri, http.allow_http).map_err(|why| f.error(why))?;
        return Ok(KeySource::Remote(uri));
    }
    if local.is_some() {
        return Ok(KeySource::Local);
    }
    match issuer {
        Some(iss) if algorithms.iter().any(|a| !a.is_hmac()) => {
            let url = discovery::url_of(iss);
            check_url(&url, http.allow_http).map_err(|why| {
                Error::options(
                    &entry.path("issuer"),
                    format!("cannot be used for discovery: {url} {why}; or give \"jwksUri\""),
                )
            })?;
            Ok(KeySource::Discovery(url))
        }
        _ => Ok(KeySource::None),
    }
}

fn parse_algorithms(f: &Field<'_>) -> Result<Vec<Algorithm>> {
    let names = f.string_list(true)?;
    if names.is_empty() {
        return Err(f.error("must name at least one algorithm"));
    }
    let mut algs = Vec::new();
    for n in names {
        let alg = Algorithm::from_name(&n).ok_or_else(|| {
            let known: Vec<&str> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            f.error(format!(
                "names {n:?}, which is not one of {}",
                known.join(", ")
            ))
        })?;
        if !algs.contains(&alg) {
            algs.push(alg);
        }
    }
    Ok(algs)
}
