//! `private_key_jwt` (RFC 7523 §2.2, OpenID Connect Core §9): the client's signing key, read
//! once from a private JWK or a PEM, and the client assertion signed with it by the
//! `jsonwebtoken` crate for every token request.
//!
//! Key import, in this order: JWK `use`/`key_ops` allow signing -> `kty` and its private members
//! (RSA with its CRT members, EC P-256/P-384, OKP Ed25519), checked by aws-lc-rs -> `alg` (the
//! JWK's own, which must fit the key, else RS256 / ES256 / ES384 / EdDSA by key type) -> a probe
//! signature. PEM: PKCS#8 `PRIVATE KEY`, PKCS#1 `RSA PRIVATE KEY` or SEC1 `EC PRIVATE KEY`.
//! The assertion: header `alg`, `typ: JWT`, the JWK's `kid`, `x5t`, `x5t#S256`; claims `iss` =
//! `sub` = client id, `aud` = token endpoint, a random `jti`, `iat` = `nbf` = now, `exp` = now
//! + 60 s. Refusals never quote the key.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeyPairComponents, PublicKeyComponents};
use aws_lc_rs::signature::{
    EcdsaKeyPair, EcdsaSigningAlgorithm, Ed25519KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
    ECDSA_P384_SHA384_FIXED_SIGNING,
};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::algorithm::{Algorithm, Family};
use crate::error::{Error, ErrorCode, Result};
use crate::jwk::b64_member;
use crate::key::strip_leading_zeros;

/// Lifetime of a client assertion, in seconds.
pub const ASSERTION_TTL_SECS: u64 = 60;

/// The private key of `private_key_jwt`. `Debug` shows the algorithm and `kid` only.
pub struct SigningKey {
    alg: Algorithm,
    key: EncodingKey,
    kid: Option<String>,
    x5t: Option<String>,
    x5t_s256: Option<String>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    nbf: u64,
    exp: u64,
}

impl SigningKey {
    /// A key from a private JWK. `Err` says why it cannot sign (never quoting the key).
    pub fn from_jwk(jwk: &Map<String, Value>) -> std::result::Result<SigningKey, String> {
        if let Some(usage) = jwk.get("use") {
            if usage != "sig" {
                return Err(format!("has \"use\" {usage}, not \"sig\""));
            }
        }
        if let Some(ops) = jwk.get("key_ops") {
            if !ops
                .as_array()
                .is_some_and(|o| o.iter().any(|op| op == "sign"))
            {
                return Err("has \"key_ops\" without \"sign\"".to_owned());
            }
        }
        let text = |name: &str| match jwk.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("has a \"{name}\" that is not a string")),
        };
        let kty = text("kty")?.ok_or("is a JWK without \"kty\"")?;
        let b64 = |name: &str| -> std::result::Result<Vec<u8>, String> {
            b64_member(jwk, name)
                .map_err(|why| format!("is a JWK whose {why}"))?
                .ok_or_else(|| {
                    if name == "d" {
                        format!("is a public {kty} JWK: a private key (with \"d\") is needed")
                    } else {
                        format!("is a {kty} JWK without \"{name}\"")
                    }
                })
        };
        let (family, pkcs8) =
            match kty.as_str() {
                "RSA" => {
                    let d = b64("d")?;
                    let components = KeyPairComponents {
                        public_key: PublicKeyComponents {
                            n: strip_leading_zeros(&b64("n")?).to_vec(),
                            e: strip_leading_zeros(&b64("e")?).to_vec(),
                        },
                        d,
                        p: b64("p")?,
                        q: b64("q")?,
                        dP: b64("dp")?,
                        dQ: b64("dq")?,
                        qInv: b64("qi")?,
                    };
                    let pair = RsaKeyPair::from_components(&components).map_err(|e| {
                        format!("is not a usable RSA key ({e}; 2048 to 8192 bits are supported)")
                    })?;
                    let der = pair.as_der().map_err(|_| "cannot be encoded")?;
                    (Family::Rsa, der.as_ref().to_vec())
                }
                "EC" => {
                    let (family, signing, size) = match text("crv")?.as_deref() {
                        Some("P-256") => (Family::EcP256, &ECDSA_P256_SHA256_FIXED_SIGNING, 32),
                        Some("P-384") => (Family::EcP384, &ECDSA_P384_SHA384_FIXED_SIGNING, 48),
                        other => {
                            return Err(format!(
                                "is an EC JWK on {}: P-256 or P-384 is needed",
                                other.map_or("no curve".to_owned(), |c| format!("curve {c:?}"))
                            ))
                        }
                    };
                    let d = b64("d")?;
                    let mut point = vec![4];
                    point.extend(b64("x")?);
                    point.extend(b64("y")?);
                    if d.len() != size || point.len() != 1 + 2 * size {
                        return Err(format!(
                            "is an EC JWK whose members are not {size} bytes long"
                        ));
                    }
                    let pair = EcdsaKeyPair::from_private_key_and_public_key(signing, &d, &point)
                        .map_err(|e| format!("is not a usable EC key ({e})"))?;
                    let der = pair.to_pkcs8v1().map_err(|_| "cannot be encoded")?;
                    (family, der.as_ref().to_vec())
                }
                "OKP" => {
                    if text("crv")?.as_deref() != Some("Ed25519") {
                        return Err("is an OKP JWK that is not Ed25519".to_owned());
                    }
                    let pair = Ed25519KeyPair::from_seed_and_public_key(&b64("d")?, &b64("x")?)
                        .map_err(|e| format!("is not a usable Ed25519 key ({e})"))?;
                    let der = pair.to_pkcs8v1().map_err(|_| "cannot be encoded")?;
                    (Family::Ed25519, der.as_ref().to_vec())
                }
                "oct" => return Err(
                    "is a symmetric (\"oct\") JWK: private_key_jwt needs an RSA, EC or Ed25519 key"
                        .to_owned(),
                ),
                other => return Err(format!("is a JWK of unsupported \"kty\" {other:?}")),
            };
        let alg = match text("alg")? {
            None => default_alg(family),
            Some(name) => Algorithm::from_name(&name)
                .filter(|a| a.family() == family)
                .ok_or_else(|| format!("names \"alg\" {name:?}, which its key cannot sign"))?,
        };
        SigningKey::new(
            alg,
            family,
            &pkcs8,
            text("kid")?,
            text("x5t")?,
            text("x5t#S256")?,
        )
    }

    /// A key from PEM text: PKCS#8, PKCS#1 (RSA) or SEC1 (EC); the first private key block
    /// counts (a bundle may hold certificates too).
    pub fn from_pem(text: &str) -> std::result::Result<SigningKey, String> {
        let blocks =
            pem::parse_many(text).map_err(|_| "is a string that is not valid PEM".to_owned())?;
        let Some(block) = blocks.iter().find(|b| b.tag().ends_with("PRIVATE KEY")) else {
            return Err(match blocks.first() {
                None => {
                    "is a string without a PEM block (a JWK object or a PEM private key is needed)"
                        .to_owned()
                }
                Some(b) => format!("holds no private key (found {})", b.tag()),
            });
        };
        let der = block.contents();
        let (family, pkcs8) = match block.tag() {
            "PRIVATE KEY" => pkcs8_family(der)?,
            "RSA PRIVATE KEY" => {
                let pair = RsaKeyPair::from_der(der)
                    .map_err(|e| format!("is not a usable RSA key ({e})"))?;
                let pkcs8 = pair.as_der().map_err(|_| "cannot be encoded")?;
                (Family::Rsa, pkcs8.as_ref().to_vec())
            }
            "EC PRIVATE KEY" => {
                let (family, pair) = ec_curves()
                    .into_iter()
                    .find_map(|(family, alg)| {
                        EcdsaKeyPair::from_private_key_der(alg, der)
                            .ok()
                            .map(|p| (family, p))
                    })
                    .ok_or("is not a usable EC key (P-256 or P-384 is needed)")?;
                let pkcs8 = pair.to_pkcs8v1().map_err(|_| "cannot be encoded")?;
                (family, pkcs8.as_ref().to_vec())
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err("is an encrypted PEM key: decrypt it first".to_owned())
            }
            other => return Err(format!("is a PEM {other}, which is not supported")),
        };
        SigningKey::new(default_alg(family), family, &pkcs8, None, None, None)
    }

    fn new(
        alg: Algorithm,
        family: Family,
        pkcs8: &[u8],
        kid: Option<String>,
        x5t: Option<String>,
        x5t_s256: Option<String>,
    ) -> std::result::Result<SigningKey, String> {
        let key = match family {
            Family::Rsa => {
                let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.to_vec()));
                EncodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|e| format!("is not a usable RSA key ({e})"))?
            }
            Family::EcP256 | Family::EcP384 => EncodingKey::from_ec_der(pkcs8),
            Family::EcP521 => return Err(
                "is a P-521 key: client assertions are signed with P-256 or P-384 (ES256, ES384)"
                    .to_owned(),
            ),
            Family::Ed25519 => EncodingKey::from_ed_der(pkcs8),
            Family::Hmac => return Err("is not an asymmetric key".to_owned()),
        };
        let key = SigningKey {
            alg,
            key,
            kid,
            x5t,
            x5t_s256,
        };
        // One signature now, so a key that cannot sign is refused by the constructor.
        key.sign(
            "probe",
            "https://probe.invalid/token",
            0,
            "probe".to_owned(),
        )
        .map_err(|e| format!("cannot sign {} ({})", alg.name(), e.message))?;
        Ok(key)
    }

    /// The algorithm assertions are signed with.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` put in the assertion's header.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// A client assertion for `client_id` at `token_endpoint`, issued at `now_ms`.
    pub fn assertion(&self, client_id: &str, token_endpoint: &str, now_ms: u64) -> Result<String> {
        self.sign(client_id, token_endpoint, now_ms / 1000, random_jti()?)
    }

    fn sign(&self, client_id: &str, aud: &str, now: u64, jti: String) -> Result<String> {
        let failed = |why: String| {
            Error::new(
                ErrorCode::TokenRequestFailed,
                format!("the client assertion could not be signed: {why}"),
            )
        };
        let alg = jwt_alg(self.alg)
            .ok_or_else(|| failed(format!("{} is not supported", self.alg.name())))?;
        let mut header = Header::new(alg);
        header.kid = self.kid.clone();
        header.x5t = self.x5t.clone();
        header.x5t_s256 = self.x5t_s256.clone();
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud,
            jti,
            iat: now,
            nbf: now,
            exp: now.saturating_add(ASSERTION_TTL_SECS),
        };
        jsonwebtoken::encode(&header, &claims, &self.key).map_err(|e| failed(e.to_string()))
    }
}

/// RS256, ES256, ES384 or EdDSA: what a key without its own `alg` signs with.
fn default_alg(family: Family) -> Algorithm {
    match family {
        Family::Rsa | Family::Hmac => Algorithm::RS256,
        Family::EcP256 => Algorithm::ES256,
        Family::EcP384 => Algorithm::ES384,
        Family::EcP521 => Algorithm::ES512,
        Family::Ed25519 => Algorithm::EdDSA,
    }
}

fn jwt_alg(alg: Algorithm) -> Option<jsonwebtoken::Algorithm> {
    use jsonwebtoken::Algorithm as J;
    Some(match alg {
        Algorithm::RS256 => J::RS256,
        Algorithm::RS384 => J::RS384,
        Algorithm::RS512 => J::RS512,
        Algorithm::PS256 => J::PS256,
        Algorithm::PS384 => J::PS384,
        Algorithm::PS512 => J::PS512,
        Algorithm::ES256 => J::ES256,
        Algorithm::ES384 => J::ES384,
        Algorithm::EdDSA => J::EdDSA,
        // Verified by this library, not signed: the signing library has no ES512, and knows
        // Ed25519 keys only as EdDSA.
        Algorithm::ES512 | Algorithm::Ed25519 => return None,
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => return None,
    })
}

fn ec_curves() -> [(Family, &'static EcdsaSigningAlgorithm); 2] {
    [
        (Family::EcP256, &ECDSA_P256_SHA256_FIXED_SIGNING),
        (Family::EcP384, &ECDSA_P384_SHA384_FIXED_SIGNING),
    ]
}

/// The key type of a PKCS#8 document, and the document as jsonwebtoken reads it.
fn pkcs8_family(der: &[u8]) -> std::result::Result<(Family, Vec<u8>), String> {
    if RsaKeyPair::from_pkcs8(der).is_ok() {
        return Ok((Family::Rsa, der.to_vec()));
    }
    for (family, alg) in ec_curves() {
        if let Ok(pair) = EcdsaKeyPair::from_pkcs8(alg, der) {
            let v1 = pair.to_pkcs8v1().map_err(|_| "cannot be encoded")?;
            return Ok((family, v1.as_ref().to_vec()));
        }
    }
    if Ed25519KeyPair::from_pkcs8(der).is_ok() {
        return Ok((Family::Ed25519, der.to_vec()));
    }
    Err("is a PKCS#8 key that is not RSA (2048+ bits), EC P-256/P-384 or Ed25519".to_owned())
}

/// 128 random bits, base64url.
fn random_jti() -> Result<String> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| {
        Error::new(
            ErrorCode::TokenRequestFailed,
            "no random bytes for the client assertion's jti",
        )
    })?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsBigEndian;
    use aws_lc_rs::signature::KeyPair;
    use jsonwebtoken::{decode, DecodingKey, Validation};
    use serde_json::json;

    fn decode_parts(token: &str) -> (Value, Value) {
        let mut parts = token.split('.');
        let mut next = || {
            let part = parts.next().expect("part");
            serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(part).expect("b64"))
                .expect("json")
        };
        (next(), next())
    }

    /// A P-256 key as a private JWK and as PEM (PKCS#8 and SEC1), made with aws-lc-rs.
    fn ec_key() -> (Value, String, String) {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref())
            .expect("pair");
        let point = pair.public_key().as_ref().to_vec();
        let d = pair.private_key().as_be_bytes().expect("d");
        let jwk = json!({
            "kty": "EC", "crv": "P-256", "kid": "ec-1",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..]),
            "d": URL_SAFE_NO_PAD.encode(d.as_ref()),
        });
        let sec1 = pair.private_key().as_der().expect("sec1");
        (
            jwk,
            pem::encode(&pem::Pem::new("PRIVATE KEY", pkcs8.as_ref().to_vec())),
            pem::encode(&pem::Pem::new("EC PRIVATE KEY", sec1.as_ref().to_vec())),
        )
    }

    fn ed_key() -> (Value, String) {
        let pair = Ed25519KeyPair::generate().expect("key");
        let seed = pair.seed().expect("seed");
        let jwk = json!({
            "kty": "OKP", "crv": "Ed25519",
            "x": URL_SAFE_NO_PAD.encode(pair.public_key().as_ref()),
            "d": URL_SAFE_NO_PAD.encode(seed.as_be_bytes().expect("seed bytes").as_ref()),
        });
        let pem = pem::encode(&pem::Pem::new(
            "PRIVATE KEY",
            pair.to_pkcs8v1().expect("der").as_ref().to_vec(),
        ));
        (jwk, pem)
    }

    #[test]
    fn assertions_carry_the_rfc_7523_claims_and_verify() {
        let (jwk, pkcs8_pem, sec1_pem) = ec_key();
        let from_jwk = SigningKey::from_jwk(jwk.as_object().unwrap()).expect("jwk");
        let from_pem = SigningKey::from_pem(&pkcs8_pem).expect("pkcs8");
        let from_sec1 = SigningKey::from_pem(&sec1_pem).expect("sec1");
        let public = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(
                EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_FIXED_SIGNING,
                    pem::parse(&pkcs8_pem).unwrap().contents()
                )
                .unwrap()
                .public_key()
                .as_der()
                .unwrap()
                .as_ref()
            )
        );
        let now_ms = 1_700_000_000_123;
        for (label, key) in [
            ("jwk", &from_jwk),
            ("pkcs8", &from_pem),
            ("sec1", &from_sec1),
        ] {
            let token = key
                .assertion("client-1", "https://id.example.com/token", now_ms)
                .expect(label);
            let (header, claims) = decode_parts(&token);
            assert_eq!(header["alg"], "ES256", "{label}");
            assert_eq!(header["typ"], "JWT", "{label}");
            assert_eq!(claims["iss"], "client-1", "{label}");
            assert_eq!(claims["sub"], "client-1", "{label}");
            assert_eq!(claims["aud"], "https://id.example.com/token", "{label}");
            assert_eq!(claims["iat"], 1_700_000_000, "{label}");
            assert_eq!(claims["nbf"], 1_700_000_000, "{label}");
            assert_eq!(claims["exp"], 1_700_000_060, "{label}");
            assert_eq!(
                claims["jti"].as_str().map(str::len),
                Some(22),
                "{label}: 128-bit jti"
            );
            let mut v = Validation::new(jsonwebtoken::Algorithm::ES256);
            v.set_audience(&["https://id.example.com/token"]);
            v.validate_exp = false;
            v.validate_nbf = false;
            decode::<Value>(
                &token,
                &DecodingKey::from_ec_pem(public.as_bytes()).unwrap(),
                &v,
            )
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        }
        assert_eq!(from_jwk.kid(), Some("ec-1"));
        assert_eq!(
            decode_parts(&from_jwk.assertion("c", "a", 0).unwrap()).0["kid"],
            "ec-1"
        );
        let a = from_jwk.assertion("c", "a", 0).unwrap();
        let b = from_jwk.assertion("c", "a", 0).unwrap();
        assert_ne!(
            decode_parts(&a).1["jti"],
            decode_parts(&b).1["jti"],
            "a fresh jti each time"
        );
    }

    #[test]
    fn algorithms_follow_the_key_or_its_alg() {
        let (ec, _, _) = ec_key();
        let (ed, ed_pem) = ed_key();
        let mut ps = ec.clone();
        ps["alg"] = json!("PS256");
        let mut x5t = ed.clone();
        x5t["x5t#S256"] = json!("thumb");
        x5t["alg"] = json!("EdDSA");
        let cases = [
            ("EC", ec.clone(), Ok("ES256")),
            ("Ed25519", ed.clone(), Ok("EdDSA")),
            ("EC with PS256", ps, Err("names \"alg\" \"PS256\"")),
        ];
        for (label, jwk, want) in cases {
            let got = SigningKey::from_jwk(jwk.as_object().unwrap()).map(|k| k.alg().name());
            match want {
                Ok(alg) => assert_eq!(got, Ok(alg), "{label}"),
                Err(part) => assert!(
                    got.as_ref().is_err_and(|e| e.contains(part)),
                    "{label}: {got:?}"
                ),
            }
        }
        let key = SigningKey::from_jwk(x5t.as_object().unwrap()).unwrap();
        assert_eq!(
            decode_parts(&key.assertion("c", "a", 0).unwrap()).0["x5t#S256"],
            "thumb"
        );
        assert_eq!(
            SigningKey::from_pem(&ed_pem).unwrap().alg(),
            Algorithm::EdDSA
        );
    }

    #[test]
    fn refusals_say_why_without_quoting_the_key() {
        let (ec, _, _) = ec_key();
        let d = ec["d"].as_str().unwrap().to_owned();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut k = ec.clone();
            f(&mut k);
            k
        };
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "public only",
                with(&|k| {
                    k.as_object_mut().unwrap().remove("d");
                }),
                "a private key (with \"d\") is needed",
            ),
            ("use enc", with(&|k| k["use"] = json!("enc")), "\"use\""),
            (
                "key_ops verify",
                with(&|k| k["key_ops"] = json!(["verify"])),
                "\"key_ops\" without \"sign\"",
            ),
            (
                "wrong curve",
                with(&|k| k["crv"] = json!("P-521")),
                "P-256 or P-384",
            ),
            ("short d", with(&|k| k["d"] = json!("AAAA")), "32 bytes"),
            (
                "mismatched d",
                with(&|k| k["d"] = json!(URL_SAFE_NO_PAD.encode([7u8; 32]))),
                "not a usable EC key",
            ),
            ("oct", json!({"kty":"oct","k":"c2VjcmV0"}), "symmetric"),
            ("no kty", json!({"d":"AA"}), "without \"kty\""),
            (
                "rsa without CRT",
                json!({"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}),
                "without \"p\"",
            ),
            (
                "HS alg",
                with(&|k| k["alg"] = json!("HS256")),
                "names \"alg\"",
            ),
        ];
        for (label, jwk, part) in cases {
            let e = SigningKey::from_jwk(jwk.as_object().unwrap()).expect_err(label);
            assert!(e.contains(part), "{label}: {e:?} lacks {part:?}");
            assert!(!e.contains(&d), "{label}: quotes the key");
        }
        let pem_cases = [
            ("not pem", "hello", "without a PEM block"),
            ("certificate", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "found CERTIFICATE"),
            ("encrypted", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"),
            ("garbage pkcs8", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "PKCS#8 key that is not"),
        ];
        for (label, text, part) in pem_cases {
            let e = SigningKey::from_pem(text).expect_err(label);
            assert!(e.contains(part), "{label}: {e:?} lacks {part:?}");
        }
        let key = SigningKey::from_jwk(ec.as_object().unwrap()).unwrap();
        assert!(!format!("{key:?}").contains(&d), "Debug hides the key");
    }
}
