//! JWS algorithms and the key family each one needs.

use crate::error::{Error, ErrorCode, Result};

/// A JWS algorithm this library verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    /// EdDSA over Ed25519 (the only EdDSA curve accepted).
    EdDSA,
    /// Ed25519 by its fully-specified name (RFC 9864): the same verification as `EdDSA`.
    Ed25519,
    HS256,
    HS384,
    HS512,
}

/// The kind of key an algorithm needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Rsa,
    EcP256,
    EcP384,
    EcP521,
    Ed25519,
    Hmac,
}

impl Algorithm {
    /// Every algorithm, in the order of the docs.
    pub const ALL: [Algorithm; 14] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::Ed25519,
        Algorithm::HS256,
        Algorithm::HS384,
        Algorithm::HS512,
    ];

    /// The default list: every asymmetric algorithm.
    pub const ASYMMETRIC: [Algorithm; 11] = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
        Algorithm::ES256,
        Algorithm::ES384,
        Algorithm::ES512,
        Algorithm::EdDSA,
        Algorithm::Ed25519,
    ];

    /// Parse the `alg` name exactly as JOSE spells it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::RS256 => "RS256",
            Algorithm::RS384 => "RS384",
            Algorithm::RS512 => "RS512",
            Algorithm::PS256 => "PS256",
            Algorithm::PS384 => "PS384",
            Algorithm::PS512 => "PS512",
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::ES512 => "ES512",
            Algorithm::EdDSA => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::HS256 => "HS256",
            Algorithm::HS384 => "HS384",
            Algorithm::HS512 => "HS512",
        }
    }

    /// The key family that may verify this algorithm.
    pub fn family(self) -> Family {
        match self {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => Family::Rsa,
            Algorithm::ES256 => Family::EcP256,
            Algorithm::ES384 => Family::EcP384,
            Algorithm::ES512 => Family::EcP521,
            Algorithm::EdDSA | Algorithm::Ed25519 => Family::Ed25519,
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => Family::Hmac,
        }
    }

    /// The names this algorithm goes by: `EdDSA` and `Ed25519` are one verification (we
    /// accept EdDSA over Ed25519 only), so a JWK whose `alg` is either verifies tokens of
    /// either. Every other algorithm is only itself.
    pub fn equivalents(self) -> &'static [Algorithm] {
        match self {
            Algorithm::EdDSA | Algorithm::Ed25519 => &[Algorithm::EdDSA, Algorithm::Ed25519],
            Algorithm::RS256 => &[Algorithm::RS256],
            Algorithm::RS384 => &[Algorithm::RS384],
            Algorithm::RS512 => &[Algorithm::RS512],
            Algorithm::PS256 => &[Algorithm::PS256],
            Algorithm::PS384 => &[Algorithm::PS384],
            Algorithm::PS512 => &[Algorithm::PS512],
            Algorithm::ES256 => &[Algorithm::ES256],
            Algorithm::ES384 => &[Algorithm::ES384],
            Algorithm::ES512 => &[Algorithm::ES512],
            Algorithm::HS256 => &[Algorithm::HS256],
            Algorithm::HS384 => &[Algorithm::HS384],
            Algorithm::HS512 => &[Algorithm::HS512],
        }
    }

    /// True for HS256/384/512.
    pub fn is_hmac(self) -> bool {
        self.family() == Family::Hmac
    }

    /// Minimum HMAC secret length in bytes (the hash size).
    pub fn min_secret_len(self) -> usize {
        match self {
            Algorithm::HS384 => 48,
            Algorithm::HS512 => 64,
            _ => 32,
        }
    }
}

/// The header `alg`, checked against an allow-list.
pub fn parse_allowed(name: Option<&str>, allowed: &[Algorithm]) -> Result<Algorithm> {
    let Some(name) = name else {
        return Err(Error::new(
            ErrorCode::AlgNotAllowed,
            "\"alg\" (Algorithm) header parameter missing",
        ));
    };
    match Algorithm::from_name(name) {
        Some(alg) if allowed.contains(&alg) => Ok(alg),
        _ => Err(Error::new(
            ErrorCode::AlgNotAllowed,
            format!("\"alg\" (Algorithm) header value {name:?} is not allowed"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg), "{alg:?}");
        }
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("ES512"), Some(Algorithm::ES512));
        assert_eq!(Algorithm::from_name("Ed25519"), Some(Algorithm::Ed25519));
        assert_eq!(Algorithm::from_name("Ed448"), None, "not supported");
        assert_eq!(
            Algorithm::from_name("rs256"),
            None,
            "names are case-sensitive"
        );
    }

    #[test]
    fn hmac_secret_lengths_are_the_hash_sizes() {
        // A 32-byte secret is enough for HS256 only: HS384 needs 48, HS512 64.
        let table = [
            (Algorithm::HS256, 32, true),
            (Algorithm::HS256, 31, false),
            (Algorithm::HS384, 32, false),
            (Algorithm::HS384, 47, false),
            (Algorithm::HS384, 48, true),
            (Algorithm::HS512, 32, false),
            (Algorithm::HS512, 48, false),
            (Algorithm::HS512, 63, false),
            (Algorithm::HS512, 64, true),
        ];
        for (alg, len, enough) in table {
            assert_eq!(
                len >= alg.min_secret_len(),
                enough,
                "{alg:?} with {len} bytes"
            );
        }
    }

    #[test]
    fn families() {
        let hmac: Vec<Algorithm> = Algorithm::ALL.into_iter().filter(|a| a.is_hmac()).collect();
        assert_eq!(hmac, [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512]);
        assert_eq!(
            Algorithm::ASYMMETRIC.to_vec(),
            Algorithm::ALL
                .into_iter()
                .filter(|a| !a.is_hmac())
                .collect::<Vec<_>>()
        );
        assert_eq!(Algorithm::ES256.family(), Family::EcP256);
        assert_eq!(Algorithm::ES384.family(), Family::EcP384);
        assert_eq!(Algorithm::ES512.family(), Family::EcP521);
        assert_eq!(Algorithm::EdDSA.family(), Family::Ed25519);
        assert_eq!(Algorithm::Ed25519.family(), Family::Ed25519);
        for alg in Algorithm::ALL {
            assert!(alg.equivalents().contains(&alg), "{alg:?}");
            assert!(
                alg.equivalents().iter().all(|a| a.family() == alg.family()),
                "{alg:?}"
            );
        }
        assert_eq!(
            Algorithm::Ed25519.equivalents(),
            [Algorithm::EdDSA, Algorithm::Ed25519]
        );
        assert_eq!(Algorithm::PS512.family(), Family::Rsa);
    }

    #[test]
    fn allow_list() {
        let allowed = [Algorithm::RS256];
        assert_eq!(
            parse_allowed(Some("RS256"), &allowed).unwrap(),
            Algorithm::RS256
        );
        for bad in [None, Some("none"), Some("HS256"), Some("ES256"), Some("")] {
            assert_eq!(
                parse_allowed(bad, &allowed).unwrap_err().code,
                ErrorCode::AlgNotAllowed,
                "{bad:?}"
            );
        }
    }
}
