//! Verification keys: public keys parsed once (aws-lc-rs `ParsedPublicKey`) and HMAC secrets.
//!
//! A key verifies only the algorithms of its family (an RSA key never verifies HS256), and
//! only its own `alg` when the JWK names one. Keys that would weaken verification are refused
//! here, whatever path imported them (JWK, `x5c`, SPKI, the `secret` option): RSA moduli outside
//! 2048..=8192 bits, Ed25519 small-order points, HMAC secrets shorter than the hash.

use aws_lc_rs::{digest, hmac, signature};

use crate::algorithm::{Algorithm, Family};

/// The public material of a key, as imported from a JWK, an x5c certificate or SPKI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Material {
    /// RSA modulus and exponent, big-endian without leading zeros.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An EC public point, uncompressed (`04 || x || y`).
    Ec { family: Family, point: Vec<u8> },
    /// An Ed25519 public key.
    Ed25519 { x: Vec<u8> },
    /// An HMAC secret.
    Secret { k: Vec<u8> },
}

impl Material {
    /// The family of algorithms this material can verify.
    pub fn family(&self) -> Family {
        match self {
            Material::Rsa { .. } => Family::Rsa,
            Material::Ec { family, .. } => *family,
            Material::Ed25519 { .. } => Family::Ed25519,
            Material::Secret { .. } => Family::Hmac,
        }
    }

    /// A short description for health reports and the CLI: `RSA 2048`, `EC P-256`, ...
    pub fn describe(&self) -> String {
        match self {
            Material::Rsa { n, .. } => format!("RSA {}", bit_len(n)),
            Material::Ec {
                family: Family::EcP384,
                ..
            } => "EC P-384".to_owned(),
            Material::Ec {
                family: Family::EcP521,
                ..
            } => "EC P-521".to_owned(),
            Material::Ec { .. } => "EC P-256".to_owned(),
            Material::Ed25519 { .. } => "OKP Ed25519".to_owned(),
            Material::Secret { k } => format!("oct {} bits", k.len() * 8),
        }
    }
}

/// Bits in a big-endian unsigned integer.
pub fn bit_len(bytes: &[u8]) -> usize {
    let trimmed = strip_leading_zeros(bytes);
    match trimmed.first() {
        None => 0,
        Some(first) => trimmed.len() * 8 - first.leading_zeros() as usize,
    }
}

/// Drop leading zero bytes of a big-endian integer.
pub fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

enum Prepared {
    Public(signature::ParsedPublicKey),
    Hmac(Box<hmac::Key>),
}

/// A key ready to verify: parsed once for each algorithm it may verify.
pub struct Key {
    /// The JWK `kid`, if any.
    pub kid: Option<String>,
    /// The JWK `alg`, if any: the only algorithm this key then verifies.
    pub alg: Option<Algorithm>,
    /// The public material.
    pub material: Material,
    /// Identity of the key (kid, alg, material): stable across refetches of the same key.
    pub fingerprint: u64,
    prepared: Vec<(Algorithm, Prepared)>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("kind", &self.material.describe())
            .finish()
    }
}

impl Key {
    /// Prepare a key for every algorithm of its family (or only `alg`). Fails when the material
    /// is not a usable key for any of them.
    pub fn new(
        kid: Option<String>,
        alg: Option<Algorithm>,
        material: Material,
    ) -> Result<Key, String> {
        let family = material.family();
        if let Some(alg) = alg {
            if alg.family() != family {
                return Err(format!(
                    "alg {} does not fit a {} key",
                    alg.name(),
                    material.describe()
                ));
            }
        }
        let algs: Vec<Algorithm> = match (alg, &material) {
            // `EdDSA` and `Ed25519` name one verification: a key pinned to either serves both.
            (Some(alg), _) => alg.equivalents().to_vec(),
            // An HMAC secret serves the hashes it is long enough for: 48 bytes, HS256 and HS384.
            (None, Material::Secret { k }) => {
                let algs: Vec<Algorithm> = Algorithm::ALL
                    .into_iter()
                    .filter(|a| a.is_hmac() && k.len() >= a.min_secret_len())
                    .collect();
                if algs.is_empty() {
                    return Err(secret_too_short(k.len(), Algorithm::HS256));
                }
                algs
            }
            (None, _) => Algorithm::ALL
                .into_iter()
                .filter(|a| a.family() == family)
                .collect(),
        };
        let mut prepared = Vec::with_capacity(algs.len());
        for alg in algs {
            prepared.push((alg, prepare(alg, &material)?));
        }
        let fingerprint = fingerprint(kid.as_deref(), alg, &material);
        Ok(Key {
            kid,
            alg,
            material,
            fingerprint,
            prepared,
        })
    }

    /// True when this key may verify `alg`.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.prepared.iter().any(|(a, _)| *a == alg)
    }

    /// Verify `signature` over `message` with `alg`. False for a bad signature or an algorithm
    /// this key does not fit.
    pub fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        let Some((_, prepared)) = self.prepared.iter().find(|(a, _)| *a == alg) else {
            return false;
        };
        match prepared {
            Prepared::Public(key) => key.verify_sig(message, sig).is_ok(),
            Prepared::Hmac(key) => hmac::verify(key, message, sig).is_ok(),
        }
    }
}

fn prepare(alg: Algorithm, material: &Material) -> Result<Prepared, String> {
    let rejected = |e: aws_lc_rs::error::KeyRejected| format!("key rejected: {e}");
    Ok(match material {
        Material::Rsa { n, e } => {
            let params: &'static signature::RsaParameters = match alg {
                Algorithm::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Algorithm::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Algorithm::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                Algorithm::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
                Algorithm::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
                _ => return Err(format!("{} is not an RSA algorithm", alg.name())),
            };
            let bits = bit_len(n);
            if !(2048..=8192).contains(&bits) {
                return Err(format!(
                    "RSA modulus of {bits} bits (2048 to 8192 accepted)"
                ));
            }
            let components = signature::RsaPublicKeyComponents {
                n: strip_leading_zeros(n),
                e: strip_leading_zeros(e),
            };
            Prepared::Public(components.to_parsed_public_key(params).map_err(rejected)?)
        }
        Material::Ec { point, .. } => {
            let params: &'static signature::EcdsaVerificationAlgorithm = match alg {
                Algorithm::ES256 => &signature::ECDSA_P256_SHA256_FIXED,
                Algorithm::ES384 => &signature::ECDSA_P384_SHA384_FIXED,
                Algorithm::ES512 => &signature::ECDSA_P521_SHA512_FIXED,
                _ => return Err(format!("{} is not an EC algorithm", alg.name())),
            };
            Prepared::Public(signature::ParsedPublicKey::new(params, point).map_err(rejected)?)
        }
        Material::Ed25519 { x } => {
            if x.len() != 32 {
                return Err("Ed25519 key must be 32 bytes".to_owned());
            }
            if is_small_order_ed25519(x) {
                return Err(
                    "Ed25519 key is a small-order point: it would accept forged signatures"
                        .to_owned(),
                );
            }
            Prepared::Public(
                signature::ParsedPublicKey::new(&signature::ED25519, x).map_err(rejected)?,
            )
        }
        Material::Secret { k } => {
            let hash = match alg {
                Algorithm::HS256 => hmac::HMAC_SHA256,
                Algorithm::HS384 => hmac::HMAC_SHA384,
                Algorithm::HS512 => hmac::HMAC_SHA512,
                _ => return Err(format!("{} is not an HMAC algorithm", alg.name())),
            };
            if k.len() < alg.min_secret_len() {
                return Err(secret_too_short(k.len(), alg));
            }
            Prepared::Hmac(Box::new(hmac::Key::new(hash, k)))
        }
    })
}

fn secret_too_short(len: usize, alg: Algorithm) -> String {
    format!(
        "oct key of {len} bytes is shorter than the {} bytes {} needs",
        alg.min_secret_len(),
        alg.name()
    )
}

/// The Ed25519 encodings of small-order points, sign bit cleared: the identity (y = 1), the
/// point of order 2 (y = p - 1), those of order 4 (y = 0) and 8, and the non-canonical
/// y = p and y = p + 1. With the sign bit either way these are the 14 encodings of the 8
/// small-order points (the list libsodium refuses; "Taming the many EdDSAs", 2020). Such a key
/// verifies signatures nobody made: with the identity, `R = identity, S = 0` fits any message.
const ED25519_SMALL_ORDER: [[u8; 32]; 7] = [
    field(0x00, 0x00, 0x00),
    field(0x01, 0x00, 0x00),
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    field(0xec, 0xff, 0x7f),
    field(0xed, 0xff, 0x7f),
    field(0xee, 0xff, 0x7f),
];

/// A little-endian 32-byte encoding: `first`, 30 times `fill`, `last` (0, 1, p - 1, p, p + 1).
const fn field(first: u8, fill: u8, last: u8) -> [u8; 32] {
    let mut bytes = [fill; 32];
    bytes[0] = first;
    bytes[31] = last;
    bytes
}

/// True when `x` encodes a small-order Ed25519 point (ignoring the sign bit).
fn is_small_order_ed25519(x: &[u8]) -> bool {
    let Some((last, rest)) = x.split_last() else {
        return false;
    };
    ED25519_SMALL_ORDER
        .iter()
        .any(|bad| bad[..31] == *rest && bad[31] == last & 0x7f)
}

fn fingerprint(kid: Option<&str>, alg: Option<Algorithm>, material: &Material) -> u64 {
    let mut ctx = digest::Context::new(&digest::SHA256);
    let mut field = |bytes: &[u8]| {
        ctx.update(&(bytes.len() as u64).to_be_bytes());
        ctx.update(bytes);
    };
    field(kid.unwrap_or("").as_bytes());
    field(alg.map(Algorithm::name).unwrap_or("").as_bytes());
    match material {
        Material::Rsa { n, e } => {
            field(b"RSA");
            field(strip_leading_zeros(n));
            field(strip_leading_zeros(e));
        }
        Material::Ec { point, .. } => {
            field(b"EC");
            field(point);
        }
        Material::Ed25519 { x } => {
            field(b"OKP");
            field(x);
        }
        Material::Secret { k } => {
            field(b"oct");
            field(k);
        }
    }
    let digest = ctx.finish();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_len(&[]), 0);
        assert_eq!(bit_len(&[0, 0, 1]), 1);
        assert_eq!(bit_len(&[0x80, 0]), 16);
        assert_eq!(bit_len(&[0, 0x7f, 0]), 15);
    }

    #[test]
    fn hmac_key_only_fits_hmac() {
        let key = Key::new(None, None, Material::Secret { k: vec![7; 64] }).unwrap();
        assert!(key.fits(Algorithm::HS256) && key.fits(Algorithm::HS512));
        assert!(!key.fits(Algorithm::RS256));
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &[7; 64]), b"m");
        assert!(key.verify(Algorithm::HS256, b"m", tag.as_ref()));
        assert!(!key.verify(Algorithm::HS256, b"n", tag.as_ref()));
        assert!(!key.verify(Algorithm::HS384, b"m", tag.as_ref()));
    }

    #[test]
    fn alg_must_fit_family() {
        let err = Key::new(
            None,
            Some(Algorithm::RS256),
            Material::Secret { k: vec![1; 32] },
        )
        .unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
    }

    #[test]
    fn small_rsa_refused() {
        let err = Key::new(
            None,
            None,
            Material::Rsa {
                n: vec![0xff; 128],
                e: vec![1, 0, 1],
            },
        )
        .unwrap_err();
        assert!(err.contains("1024 bits"), "{err}");
    }

    #[test]
    fn hmac_secrets_shorter_than_the_hash_are_refused() {
        let secret = |len: usize| Material::Secret { k: vec![7; len] };
        let fits = |key: &Key| -> Vec<Algorithm> {
            [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]
                .into_iter()
                .filter(|a| key.fits(*a))
                .collect()
        };
        for (len, want) in [
            (32, vec![Algorithm::HS256]),
            (47, vec![Algorithm::HS256]),
            (48, vec![Algorithm::HS256, Algorithm::HS384]),
            (63, vec![Algorithm::HS256, Algorithm::HS384]),
            (
                64,
                vec![Algorithm::HS256, Algorithm::HS384, Algorithm::HS512],
            ),
        ] {
            let key = Key::new(None, None, secret(len)).unwrap();
            assert_eq!(fits(&key), want, "{len} bytes");
        }
        for len in [0, 1, 31] {
            let err = Key::new(None, None, secret(len)).unwrap_err();
            assert!(err.contains("32 bytes HS256 needs"), "{len}: {err}");
        }
        for (alg, len, ok) in [
            (Algorithm::HS256, 31, false),
            (Algorithm::HS256, 32, true),
            (Algorithm::HS384, 32, false),
            (Algorithm::HS384, 47, false),
            (Algorithm::HS384, 48, true),
            (Algorithm::HS512, 48, false),
            (Algorithm::HS512, 63, false),
            (Algorithm::HS512, 64, true),
        ] {
            let got = Key::new(None, Some(alg), secret(len));
            assert_eq!(got.is_ok(), ok, "{alg:?} with {len} bytes: {got:?}");
            if let Err(why) = got {
                let want = format!("{} bytes {} needs", alg.min_secret_len(), alg.name());
                assert!(why.contains(&want), "{why}");
            }
        }
    }

    /// Every encoding of a small-order point: the 7 listed, each with the sign bit clear and set.
    fn small_order_encodings() -> Vec<[u8; 32]> {
        let mut all = Vec::new();
        for bad in ED25519_SMALL_ORDER {
            let mut negative = bad;
            negative[31] |= 0x80;
            all.extend([bad, negative]);
        }
        all
    }

    #[test]
    fn ed25519_small_order_points_are_refused() {
        let encodings = small_order_encodings();
        assert_eq!(encodings.len(), 14);
        for x in encodings {
            let err = Key::new(None, None, Material::Ed25519 { x: x.to_vec() }).unwrap_err();
            assert!(err.contains("small-order"), "{x:02x?}: {err}");
        }
        let real = Ed25519KeyPair::generate().unwrap();
        let x = real.public_key().as_ref().to_vec();
        assert!(!is_small_order_ed25519(&x));
        assert!(Key::new(None, None, Material::Ed25519 { x }).is_ok());
        assert!(!is_small_order_ed25519(&[]), "empty is not a point");
        // One bit away from the identity is not on the list.
        let mut near = field(0x01, 0x00, 0x00);
        near[30] = 1;
        assert!(!is_small_order_ed25519(&near));
    }

    #[test]
    fn identity_key_would_accept_a_forged_signature() {
        // Why the check exists: the raw primitive accepts (R = identity, S = 0) for the identity
        // key and any message. The Key built from it is refused before it can verify anything.
        let identity = field(0x01, 0x00, 0x00);
        let mut forged = [0u8; 64];
        forged[..32].copy_from_slice(&identity);
        let raw = signature::UnparsedPublicKey::new(&signature::ED25519, identity);
        assert!(
            raw.verify(b"any payload", &forged).is_ok(),
            "aws-lc now refuses the forgery itself: keep our check, drop this assertion"
        );
        assert!(Key::new(
            None,
            None,
            Material::Ed25519 {
                x: identity.to_vec()
            }
        )
        .is_err());
    }

    #[test]
    fn rsa_modulus_size_boundaries() {
        for (bytes, first, want) in [
            (256, 0x7f, "2047 bits"),
            (1025, 0x01, "8193 bits"),
            (0, 0, "0 bits"),
        ] {
            let mut n = vec![0xff; bytes];
            if let Some(b) = n.first_mut() {
                *b = first;
            }
            let err = Key::new(
                None,
                None,
                Material::Rsa {
                    n,
                    e: vec![1, 0, 1],
                },
            )
            .unwrap_err();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn descriptions() {
        let cases = [
            (
                Material::Rsa {
                    n: vec![0, 0x80, 0],
                    e: vec![3],
                },
                "RSA 16",
            ),
            (
                Material::Ec {
                    family: Family::EcP256,
                    point: vec![4],
                },
                "EC P-256",
            ),
            (
                Material::Ec {
                    family: Family::EcP384,
                    point: vec![4],
                },
                "EC P-384",
            ),
            (
                Material::Ec {
                    family: Family::EcP521,
                    point: vec![4],
                },
                "EC P-521",
            ),
            (Material::Ed25519 { x: vec![0; 32] }, "OKP Ed25519"),
            (Material::Secret { k: vec![0; 32] }, "oct 256 bits"),
        ];
        for (material, want) in cases {
            assert_eq!(material.describe(), want);
        }
        assert_eq!(strip_leading_zeros(&[0, 0, 5, 0]), [5, 0]);
        assert_eq!(strip_leading_zeros(&[0, 0]), [0u8; 0]);
    }

    #[test]
    fn debug_shows_what_the_key_is_never_its_material() {
        let key = Key::new(
            Some("k1".into()),
            Some(Algorithm::HS256),
            Material::Secret { k: vec![0xab; 32] },
        )
        .unwrap();
        let shown = format!("{key:?}");
        assert_eq!(
            shown,
            "Key { kid: Some(\"k1\"), alg: Some(HS256), kind: \"oct 256 bits\" }"
        );
        assert!(!shown.contains("171"), "no secret bytes: {shown}");
    }

    #[test]
    fn fingerprint_is_stable_and_distinct() {
        let m = Material::Secret { k: vec![1; 32] };
        let a = Key::new(Some("a".into()), None, m.clone()).unwrap();
        let a2 = Key::new(Some("a".into()), None, m.clone()).unwrap();
        let b = Key::new(Some("b".into()), None, m).unwrap();
        assert_eq!(a.fingerprint, a2.fingerprint);
        assert_ne!(a.fingerprint, b.fingerprint);
    }
}
