//! JWKS documents (`KeySet::parse`), remote and local: unusable keys are skipped one by one,
//! and every key kept obeys the import rules.
#![no_main]

use jwks_verify_core::algorithm::{Algorithm, Family};
use jwks_verify_core::jwk::Origin;
use jwks_verify_core::key::Material;
use jwks_verify_core::keyset::KeySet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for origin in [Origin::Remote, Origin::Local] {
        let Ok(set) = KeySet::parse(data, origin, None) else {
            continue;
        };
        for key in set.keys() {
            let family = key.material.family();
            let fits: Vec<Algorithm> = Algorithm::ALL
                .into_iter()
                .filter(|a| key.fits(*a))
                .collect();
            assert!(!fits.is_empty(), "a kept key verifies something");
            assert!(fits.iter().all(|a| a.family() == family));
            if let Some(alg) = key.alg {
                assert_eq!(fits, alg.equivalents());
            }
            match &key.material {
                Material::Secret { k } => {
                    assert_eq!(origin, Origin::Local, "oct keys only from local sets");
                    assert!(fits.iter().all(|a| k.len() >= a.min_secret_len()));
                }
                Material::Rsa { n, .. } => assert!(n.len() >= 256 && n[0] != 0),
                Material::Ed25519 { x } => assert_eq!(x.len(), 32),
                Material::Ec { family, point } => {
                    let size = match family {
                        Family::EcP256 => 65,
                        Family::EcP384 => 97,
                        _ => 133,
                    };
                    assert_eq!(point.len(), size);
                }
            }
        }
        // Parsing twice, the second time with the first as `previous`, gives the same keys.
        let again = KeySet::parse(data, origin, Some(&set)).expect("parsed once already");
        assert_eq!(again.kids(), set.kids());
    }
});
