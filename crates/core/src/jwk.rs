//! JWK and SPKI import: a JWK (RSA `n`/`e`, EC `x`/`y`, OKP Ed25519 `x`, `oct`, or only an
//! `x5c` chain) becomes a [`Key`], or a reason why it is not usable.
//!
//! Key members (`n`, `e`, `x`, `y`, `k`) are read leniently: base64url or standard base64,
//! padding optional (Battle.net publishes `n` as standard base64 with `=`). Tokens stay strict
//! base64url (`token`).

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use serde_json::{Map, Value};
use x509_parser::oid_registry::{
    OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY, OID_NIST_EC_P384, OID_NIST_EC_P521, OID_SIG_ED25519,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::algorithm::{Algorithm, Family};
use crate::key::{strip_leading_zeros, Key, Material};

/// Where a JWK comes from: remote sets may not carry `oct` secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A JWKS fetched over HTTP(S).
    Remote,
    /// A key set given in the options.
    Local,
}

/// Import one JWK. `Err` says why it is not usable; it never spoils other keys of the set.
pub fn import(jwk: &Value, origin: Origin) -> Result<Key, String> {
    let Value::Object(jwk) = jwk else {
        return Err("not a JSON object".to_owned());
    };
    let kid = match jwk.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err("\"kid\" is not a string".to_owned()),
    };
    if let Some(usage) = jwk.get("use") {
        if usage != "sig" {
            return Err(format!("\"use\" is {usage}, not \"sig\""));
        }
    }
    if let Some(ops) = jwk.get("key_ops") {
        let allows_verify = ops
            .as_array()
            .is_some_and(|ops| ops.iter().any(|op| op == "verify"));
        if !allows_verify {
            return Err("\"key_ops\" does not allow \"verify\"".to_owned());
        }
    }
    let alg = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(
            Algorithm::from_name(name).ok_or_else(|| format!("unsupported \"alg\" {name:?}"))?,
        ),
        Some(_) => return Err("\"alg\" is not a string".to_owned()),
    };
    let kty = jwk
        .get("kty")
        .and_then(Value::as_str)
        .ok_or("missing \"kty\"")?;
    let from_cert = match jwk.get("x5c") {
        None => None,
        Some(chain) => Some(material_from_x5c(chain)?),
    };
    let material = match kty {
        "RSA" => rsa_material(jwk)?,
        "EC" => ec_material(jwk)?,
        "OKP" => okp_material(jwk)?,
        "oct" => {
            if origin == Origin::Remote {
                return Err("\"oct\" keys from a remote JWKS are ignored".to_owned());
            }
            Some(Material::Secret {
                k: b64_member(jwk, "k")?.ok_or("missing \"k\"")?,
            })
        }
        other => return Err(format!("unsupported \"kty\" {other:?}")),
    };
    let material = match (material, from_cert) {
        (Some(own), Some(cert)) if own != cert => {
            return Err("\"x5c\" certificate does not match the key's own parameters".to_owned())
        }
        (Some(own), _) => own,
        (None, Some(cert)) => {
            // Only RSA, EC and OKP keys get here (an `oct` key always has its own `k`).
            let fits_kty = match kty {
                "RSA" => cert.family() == Family::Rsa,
                "OKP" => cert.family() == Family::Ed25519,
                _ => match ec_curve(jwk)? {
                    Some((family, _, _)) => cert.family() == family,
                    None => matches!(
                        cert.family(),
                        Family::EcP256 | Family::EcP384 | Family::EcP521
                    ),
                },
            };
            if !fits_kty {
                return Err(format!(
                    "\"x5c\" certificate does not hold a {kty} key{}",
                    match jwk.get("crv").and_then(Value::as_str) {
                        Some(crv) => format!(" on {crv}"),
                        None => String::new(),
                    }
                ));
            }
            cert
        }
        (None, None) => return Err(format!("{kty} key has neither its parameters nor \"x5c\"")),
    };
    Key::new(kid, alg, material)
}

/// Import a SubjectPublicKeyInfo (DER), as found in certificates and PEM public keys.
pub fn material_from_spki(der: &[u8]) -> Result<Material, String> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(der)
        .map_err(|_| "not a DER SubjectPublicKeyInfo".to_owned())?;
    material_from_parsed_spki(&spki)
}

fn material_from_parsed_spki(spki: &SubjectPublicKeyInfo<'_>) -> Result<Material, String> {
    let oid = &spki.algorithm.algorithm;
    if *oid == OID_SIG_ED25519 {
        return Ok(Material::Ed25519 {
            x: spki.subject_public_key.data.to_vec(),
        });
    }
    if *oid == OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .ok_or("EC key without a named curve")?;
        let family = if curve == OID_EC_P256 {
            Family::EcP256
        } else if curve == OID_NIST_EC_P384 {
            Family::EcP384
        } else if curve == OID_NIST_EC_P521 {
            Family::EcP521
        } else {
            return Err(format!("unsupported EC curve {curve}"));
        };
        return Ok(Material::Ec {
            family,
            point: spki.subject_public_key.data.to_vec(),
        });
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => Ok(Material::Rsa {
            n: strip_leading_zeros(rsa.modulus).to_vec(),
            e: strip_leading_zeros(rsa.exponent).to_vec(),
        }),
        _ => Err(format!("unsupported public key algorithm {oid}")),
    }
}

/// The public key of the first certificate of an `x5c` chain.
fn material_from_x5c(chain: &Value) -> Result<Material, String> {
    let first = chain
        .as_array()
        .and_then(|c| c.first())
        .and_then(Value::as_str)
        .ok_or("\"x5c\" is not a non-empty array of strings")?;
    let der = STANDARD
        .decode(first)
        .map_err(|_| "\"x5c\" certificate is not base64".to_owned())?;
    let (_, cert) = X509Certificate::from_der(&der)
        .map_err(|_| "\"x5c\" certificate is not DER X.509".to_owned())?;
    material_from_parsed_spki(cert.public_key())
}

/// Padding optional, unused trailing bits must be zero.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const URL_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);

/// A key member: base64url (RFC 7517) or standard base64, padded or not; one alphabet per value.
pub(crate) fn b64_member(jwk: &Map<String, Value>, name: &str) -> Result<Option<Vec<u8>>, String> {
    match jwk.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => URL_LENIENT
            .decode(s)
            .or_else(|_| STANDARD_LENIENT.decode(s))
            .map(Some)
            .map_err(|_| format!("\"{name}\" is not base64url (nor standard base64)")),
        Some(_) => Err(format!("\"{name}\" is not a string")),
    }
}

fn rsa_material(jwk: &Map<String, Value>) -> Result<Option<Material>, String> {
    match (b64_member(jwk, "n")?, b64_member(jwk, "e")?) {
        (Some(n), Some(e)) => Ok(Some(Material::Rsa {
            n: strip_leading_zeros(&n).to_vec(),
            e: strip_leading_zeros(&e).to_vec(),
        })),
        (None, None) => Ok(None),
        _ => Err("RSA key needs both \"n\" and \"e\"".to_owned()),
    }
}

/// An EC curve: its family, coordinate size in bytes, and name.
type Curve = (Family, usize, &'static str);

/// The EC curve named by `crv`, `None` when `crv` is absent.
fn ec_curve(jwk: &Map<String, Value>) -> Result<Option<Curve>, String> {
    match jwk.get("crv") {
        None => Ok(None),
        Some(Value::String(crv)) => match crv.as_str() {
            "P-256" => Ok(Some((Family::EcP256, 32, "P-256"))),
            "P-384" => Ok(Some((Family::EcP384, 48, "P-384"))),
            "P-521" => Ok(Some((Family::EcP521, 66, "P-521"))),
            other => Err(format!("unsupported EC curve {other:?}")),
        },
        Some(_) => Err("\"crv\" is not a string".to_owned()),
    }
}

fn ec_material(jwk: &Map<String, Value>) -> Result<Option<Material>, String> {
    let curve = ec_curve(jwk)?;
    match (b64_member(jwk, "x")?, b64_member(jwk, "y")?) {
        (Some(x), Some(y)) => {
            let (family, size, name) = curve.ok_or("EC key without \"crv\"")?;
            if x.len() != size || y.len() != size {
                return Err(format!("EC coordinates must be {size} bytes for {name}"));
            }
            let mut point = Vec::with_capacity(1 + 2 * size);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Ok(Some(Material::Ec { family, point }))
        }
        (None, None) => Ok(None),
        _ => Err("EC key needs both \"x\" and \"y\"".to_owned()),
    }
}

/// An OKP key's own `x`; `None` when it has neither `crv` nor `x` (a certificate-only key,
/// read from `x5c` like RSA and EC ones).
fn okp_material(jwk: &Map<String, Value>) -> Result<Option<Material>, String> {
    match jwk.get("crv") {
        Some(Value::String(crv)) if crv == "Ed25519" => {}
        Some(Value::String(crv)) => return Err(format!("unsupported OKP curve {crv:?}")),
        Some(_) => return Err("\"crv\" is not a string".to_owned()),
        None if jwk.contains_key("x") => return Err("OKP key without \"crv\"".to_owned()),
        None => return Ok(None),
    }
    Ok(b64_member(jwk, "x")?.map(|x| Material::Ed25519 { x }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    #[test]
    fn imports_okp() {
        let key = import(
            &json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"kid":"e1"}),
            Origin::Remote,
        )
        .unwrap();
        assert_eq!(key.kid.as_deref(), Some("e1"));
        assert!(key.fits(Algorithm::EdDSA));
        assert!(!key.fits(Algorithm::ES256));
    }

    #[test]
    fn skips_unusable_keys_with_a_reason() {
        let cases = [
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"use":"enc"}),
                "use",
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"key_ops":["encrypt"]}),
                "key_ops",
            ),
            (json!({"kty":"OKP","crv":"Ed448","x":ED_X}), "curve"),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"alg":"RS256"}),
                "does not fit",
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"alg":"XX1"}),
                "unsupported \"alg\"",
            ),
            (
                json!({"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI"}),
                "remote",
            ),
            (
                json!({"kty":"EC","crv":"P-521","x":"AA","y":"AA"}),
                "66 bytes",
            ),
            (
                json!({"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"}),
                "curve",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":"AA","y":"AA"}),
                "32 bytes",
            ),
            (json!({"kty":"RSA","n":"AQAB"}), "both"),
            (json!({"kty":"RSA","n":"AQAB","e":"AQAB"}), "bits"),
            (json!({"kty":"RSA","x5c":["!!"]}), "base64"),
            (json!({"kty":"RSA","x5c":["AAAA"]}), "DER"),
            (json!({"kty":"RSA"}), "neither"),
            (json!({"kty":"XYZ"}), "kty"),
            (json!({"kid":1,"kty":"RSA"}), "kid"),
            (json!([1]), "object"),
        ];
        for (jwk, fragment) in cases {
            let err = import(&jwk, Origin::Remote).unwrap_err();
            assert!(err.contains(fragment), "{jwk}: {err:?} lacks {fragment:?}");
        }
    }

    /// A self-signed P-256 certificate (DER, standard base64; made with openssl) and its point.
    const EC_CERT: &str = include_str!("../tests/fixtures/ec-p256.cert.b64");
    const EC_CERT_X: &str = "WH_ZphG4R5qxlMOaPRph3H7kpFu2U2DjD5dRuv7V4UU";
    const EC_CERT_Y: &str = "MzCs5uudwJnJxzO9CgSwhki339RrCRSTxMT43r1VGEk";
    /// A self-signed Ed25519 certificate and its public key.
    const ED_CERT: &str = include_str!("../tests/fixtures/ed25519.cert.b64");
    /// Self-signed P-384 and RSA 2048 certificates.
    const EC384_CERT: &str = include_str!("../tests/fixtures/ec-p384.cert.b64");
    const RSA_CERT: &str = include_str!("../tests/fixtures/rsa2048.cert.b64");
    const ED_CERT_X: &str = "g59Xp4oyzp13K7aB7C34TU9_ncyIUlqojeUtWWxCy1Y";
    /// A self-signed P-521 certificate.
    const EC521_CERT: &str = include_str!("../tests/fixtures/ec-p521.cert.b64");

    #[test]
    fn okp_certificate_only_keys_fall_back_to_x5c() {
        // Like RSA and EC: no `crv`, no `x`, only the certificate.
        let key = import(&json!({"kty":"OKP","x5c":[ED_CERT]}), Origin::Remote).unwrap();
        assert!(key.fits(Algorithm::EdDSA) && key.fits(Algorithm::Ed25519));
        assert_eq!(
            key.material,
            Material::Ed25519 {
                x: URL_SAFE_NO_PAD.decode(ED_CERT_X).unwrap()
            }
        );
        let err = import(&json!({"kty":"OKP","x5c":[EC_CERT]}), Origin::Remote).unwrap_err();
        assert!(err.contains("does not hold a OKP key"), "{err}");
        let err = import(&json!({"kty":"OKP"}), Origin::Remote).unwrap_err();
        assert!(err.contains("neither"), "{err}");
    }

    #[test]
    fn key_members_may_be_standard_base64_with_padding() {
        // Battle.net's RSA `n` is standard base64 with `=` padding; `e` here too.
        let Material::Rsa { n, .. } = material_from_x5c(&json!([RSA_CERT])).unwrap() else {
            panic!("an RSA certificate")
        };
        let standard = STANDARD.encode(&n);
        assert!(
            standard.ends_with("==") && standard.contains(['+', '/']),
            "{standard}"
        );
        let key = import(
            &json!({"kty":"RSA","n":standard,"e":"AAEAAQ==","x5c":[RSA_CERT]}),
            Origin::Remote,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(key.fits(Algorithm::RS256));
        assert_eq!(
            key.material,
            Material::Rsa {
                n: n.clone(),
                e: vec![1, 0, 1]
            }
        );
        // The same key, base64url with and without padding: one key, one fingerprint.
        for url in [
            URL_SAFE_NO_PAD.encode(&n),
            format!("{}==", URL_SAFE_NO_PAD.encode(&n)),
        ] {
            let same = import(&json!({"kty":"RSA","n":url,"e":"AQAB"}), Origin::Remote).unwrap();
            assert_eq!(same.fingerprint, key.fingerprint);
        }
        // One alphabet per value; a value that is neither is refused with its name.
        let mixed = standard.replacen('+', "-", 1).replacen('/', "_", 1);
        let err = import(&json!({"kty":"RSA","n":mixed,"e":"AQAB"}), Origin::Remote).unwrap_err();
        assert!(err.contains("\"n\" is not base64url"), "{err}");
        let err = import(&json!({"kty":"RSA","n":"AQ=B","e":"AQAB"}), Origin::Remote).unwrap_err();
        assert!(err.contains("\"n\" is not base64url"), "{err}");
    }

    #[test]
    fn p521_keys_verify_es512() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P521_SHA512_FIXED_SIGNING};
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        assert_eq!(point.len(), 133);
        let jwk = json!({
            "kty": "EC", "crv": "P-521",
            "x": URL_SAFE_NO_PAD.encode(&point[1..67]),
            "y": URL_SAFE_NO_PAD.encode(&point[67..]),
        });
        let key = import(&jwk, Origin::Remote).unwrap();
        assert_eq!(key.material.describe(), "EC P-521");
        let fits: Vec<Algorithm> = Algorithm::ALL
            .into_iter()
            .filter(|a| key.fits(*a))
            .collect();
        assert_eq!(fits, [Algorithm::ES512]);
        let sig = pair.sign(&rng, b"h.p").unwrap();
        assert_eq!(sig.as_ref().len(), 132, "P-521 signatures are 2 x 66 bytes");
        assert!(key.verify(Algorithm::ES512, b"h.p", sig.as_ref()));
        assert!(!key.verify(Algorithm::ES512, b"h.q", sig.as_ref()));
        assert!(!key.verify(Algorithm::ES384, b"h.p", sig.as_ref()));
        let mut pinned = jwk.clone();
        pinned["alg"] = json!("ES384");
        assert!(import(&pinned, Origin::Remote)
            .unwrap_err()
            .contains("does not fit"));
    }

    #[test]
    fn eddsa_and_ed25519_are_one_algorithm_for_a_pinned_key() {
        for alg in ["EdDSA", "Ed25519"] {
            let key = import(
                &json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"alg":alg}),
                Origin::Remote,
            )
            .unwrap();
            assert!(
                key.fits(Algorithm::EdDSA) && key.fits(Algorithm::Ed25519),
                "{alg}"
            );
        }
    }

    #[test]
    fn kty_must_match_the_x5c_certificate() {
        let skipped = [
            (
                json!({"kty":"RSA","x5c":[EC_CERT]}),
                "does not hold a RSA key",
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x5c":[EC_CERT]}),
                "does not hold a OKP key",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x5c":[ED_CERT]}),
                "does not hold a EC key",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":EC_CERT_Y,"y":EC_CERT_X,"x5c":[EC_CERT]}),
                "does not match",
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"x5c":[ED_CERT]}),
                "does not match",
            ),
            (
                json!({"kty":"EC","crv":"P-384","x5c":[EC_CERT]}),
                "does not hold a EC key on P-384",
            ),
            (
                json!({"kty":"EC","crv":7,"x5c":[EC_CERT]}),
                "\"crv\" is not a string",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x5c":[EC384_CERT]}),
                "does not hold a EC key on P-256",
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x5c":[RSA_CERT]}),
                "does not hold a OKP key",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x5c":[EC521_CERT]}),
                "does not hold a EC key on P-256",
            ),
            (
                json!({"kty":"EC","crv":"P-521","x5c":[EC384_CERT]}),
                "does not hold a EC key on P-521",
            ),
            (json!({"kty":"EC","x5c":[]}), "non-empty array"),
            (json!({"kty":"EC","x5c":[5]}), "non-empty array"),
            (json!({"kty":"EC","x5c":"abc"}), "non-empty array"),
        ];
        for (jwk, fragment) in skipped {
            let err = import(&jwk, Origin::Remote).unwrap_err();
            assert!(err.contains(fragment), "{jwk}: {err:?} lacks {fragment:?}");
        }
        let usable = [
            (json!({"kty":"RSA","x5c":[RSA_CERT]}), Algorithm::PS512),
            (
                json!({"kty":"EC","crv":"P-384","x5c":[EC384_CERT]}),
                Algorithm::ES384,
            ),
            (json!({"kty":"EC","x5c":[EC_CERT]}), Algorithm::ES256),
            (json!({"kty":"EC","x5c":[EC521_CERT]}), Algorithm::ES512),
            (
                json!({"kty":"EC","crv":"P-521","x5c":[EC521_CERT]}),
                Algorithm::ES512,
            ),
            (
                json!({"kty":"EC","crv":"P-256","x5c":[EC_CERT]}),
                Algorithm::ES256,
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":EC_CERT_X,"y":EC_CERT_Y,"x5c":[EC_CERT]}),
                Algorithm::ES256,
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x5c":[ED_CERT]}),
                Algorithm::EdDSA,
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_CERT_X,"x5c":[ED_CERT, "ignored"]}),
                Algorithm::EdDSA,
            ),
        ];
        for (jwk, alg) in usable {
            let key = import(&jwk, Origin::Remote).unwrap_or_else(|e| panic!("{jwk}: {e}"));
            assert!(key.fits(alg), "{jwk}");
        }
    }

    #[test]
    fn keys_without_alg_fit_every_algorithm_of_their_family() {
        use Algorithm::*;
        for (jwk, want) in [
            (
                json!({"kty":"RSA","x5c":[RSA_CERT]}),
                vec![RS256, RS384, RS512, PS256, PS384, PS512],
            ),
            (json!({"kty":"EC","x5c":[EC_CERT]}), vec![ES256]),
            (json!({"kty":"EC","x5c":[EC384_CERT]}), vec![ES384]),
            (json!({"kty":"EC","x5c":[EC521_CERT]}), vec![ES512]),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X}),
                vec![EdDSA, Ed25519],
            ),
        ] {
            let key = import(&jwk, Origin::Remote).unwrap();
            let fits: Vec<Algorithm> = Algorithm::ALL
                .into_iter()
                .filter(|a| key.fits(*a))
                .collect();
            assert_eq!(fits, want, "{jwk}");
        }
    }

    #[test]
    fn ed25519_small_order_keys_are_skipped() {
        let identity = URL_SAFE_NO_PAD.encode({
            let mut x = [0u8; 32];
            x[0] = 1;
            x
        });
        let err = import(
            &json!({"kty":"OKP","crv":"Ed25519","x":identity}),
            Origin::Remote,
        )
        .unwrap_err();
        assert!(err.contains("small-order"), "{err}");
        // The same point in a certificate (we read x5c keys, not their signatures).
        let mut der = STANDARD.decode(ED_CERT).unwrap();
        let real = URL_SAFE_NO_PAD.decode(ED_CERT_X).unwrap();
        let at = der.windows(32).position(|w| w == real).unwrap();
        der[at..at + 32].copy_from_slice(&URL_SAFE_NO_PAD.decode(&identity).unwrap());
        let forged_cert = STANDARD.encode(der);
        let err = import(
            &json!({"kty":"OKP","crv":"Ed25519","x5c":[forged_cert]}),
            Origin::Remote,
        )
        .unwrap_err();
        assert!(err.contains("small-order"), "{err}");
    }

    #[test]
    fn local_oct_keys_shorter_than_the_hash_are_skipped() {
        let oct = |len: usize, alg: Option<&str>| {
            let mut jwk = json!({"kty":"oct","k":URL_SAFE_NO_PAD.encode(vec![9u8; len])});
            if let Some(alg) = alg {
                jwk["alg"] = json!(alg);
            }
            import(&jwk, Origin::Local)
        };
        for (len, alg) in [
            (1, None),
            (31, None),
            (31, Some("HS256")),
            (32, Some("HS384")),
            (47, Some("HS384")),
            (48, Some("HS512")),
            (63, Some("HS512")),
        ] {
            let err = oct(len, alg).unwrap_err();
            assert!(err.contains("shorter"), "{len} {alg:?}: {err}");
        }
        assert!(oct(32, None).unwrap().fits(Algorithm::HS256));
        assert!(!oct(32, None).unwrap().fits(Algorithm::HS384));
        assert!(oct(48, Some("HS384")).unwrap().fits(Algorithm::HS384));
        assert!(oct(64, Some("HS512")).unwrap().fits(Algorithm::HS512));
        let err = import(&json!({"kty":"oct"}), Origin::Local).unwrap_err();
        assert!(err.contains("missing \"k\""), "{err}");
    }

    #[test]
    fn key_members() {
        let key = import(
            &json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"alg":"EdDSA","use":"sig","key_ops":["sign","verify"]}),
            Origin::Remote,
        )
        .unwrap();
        assert_eq!(key.alg, Some(Algorithm::EdDSA));
        assert_eq!(key.kid, None);
        for (jwk, fragment) in [
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"alg":5}),
                "\"alg\" is not a string",
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"key_ops":"verify"}),
                "key_ops",
            ),
            (json!({"kty":"OKP","crv":"Ed25519","x":ED_X,"use":5}), "use"),
            (json!({"kty":"OKP","x":ED_X}), "without \"crv\""),
            (
                json!({"kty":"OKP","crv":1,"x":ED_X}),
                "\"crv\" is not a string",
            ),
            (
                json!({"kty":"OKP","crv":"Ed25519","x":5}),
                "\"x\" is not a string",
            ),
            (json!({"kty":"OKP","crv":"Ed25519","x":"a+b_"}), "base64url"),
            (json!({"kty":"OKP","crv":"Ed25519","x":"a+b/"}), "32 bytes"),
            (json!({"crv":"Ed25519","x":ED_X}), "kty"),
            (json!({"kty":5}), "kty"),
            (
                json!({"kty":"EC","x":EC_CERT_X,"y":EC_CERT_Y}),
                "without \"crv\"",
            ),
            (json!({"kty":"EC","crv":"P-256","x":EC_CERT_X}), "both"),
            (
                json!({"kty":"EC","crv":"P-384","x":EC_CERT_X,"y":EC_CERT_Y}),
                "48 bytes",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":EC_CERT_X,"y":"AA"}),
                "32 bytes",
            ),
            (
                json!({"kty":"EC","crv":"P-256","x":"AA","y":EC_CERT_Y}),
                "32 bytes",
            ),
        ] {
            let err = import(&jwk, Origin::Remote).unwrap_err();
            assert!(err.contains(fragment), "{jwk}: {err:?} lacks {fragment:?}");
        }
        let ec = import(
            &json!({"kty":"EC","crv":"P-256","x":EC_CERT_X,"y":EC_CERT_Y}),
            Origin::Remote,
        )
        .unwrap();
        assert!(ec.fits(Algorithm::ES256) && !ec.fits(Algorithm::ES384));
    }

    #[test]
    fn local_oct_keys_are_allowed() {
        let key = import(
            &json!({"kty":"oct","k":URL_SAFE_NO_PAD.encode([9u8; 32])}),
            Origin::Local,
        )
        .unwrap();
        assert!(key.fits(Algorithm::HS256));
    }
}
