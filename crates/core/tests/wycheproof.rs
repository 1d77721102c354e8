//! Every JWS algorithm agrees with the Project Wycheproof vectors in `shared/testdata`,
//! through both key import paths: JWK and SPKI (DER). `WYCHEPROOF_DIR` points elsewhere (a
//! directory with the same files, e.g. one that adds `ecdsa_secp521r1_sha512_p1363_test.json`
//! from C2SP/wycheproof `testvectors_v1/`, commit dac1dd4).

use std::path::PathBuf;

use jwks_verify_core::algorithm::Algorithm;
use jwks_verify_core::jwk::{import, material_from_spki, Origin};
use jwks_verify_core::key::{Key, Material};
use serde_json::Value;

fn data_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("WYCHEPROOF_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata/wycheproof")
        }
    };
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "shared/testdata/wycheproof is missing beside the checkout"
    );
    eprintln!("skipping: {} not found", dir.display());
    None
}

fn hex(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_else(|e| panic!("bad hex in vectors: {e}"))
}

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_refused: usize,
}

/// Run one file: `keys` gives the keys of a group (one per import path, with a label).
fn run(
    file: &str,
    alg: Algorithm,
    keys: impl Fn(&Value) -> Vec<(&'static str, Result<Key, String>)>,
) -> Tally {
    let Some(dir) = data_dir() else {
        return Tally::default();
    };
    let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().into_iter().flatten() {
        for (path, key) in keys(group) {
            for test in group["tests"].as_array().into_iter().flatten() {
                let id = test["tcId"].as_u64().unwrap_or(0);
                let result = test["result"].as_str().unwrap_or("");
                let ok = match &key {
                    Ok(key) => key.verify(
                        alg,
                        &hex(test["msg"].as_str().unwrap_or("")),
                        &hex(test["sig"].as_str().unwrap_or("")),
                    ),
                    Err(_) => false,
                };
                match result {
                    "valid" => {
                        assert!(
                            ok,
                            "{file} tcId {id} via {path}: valid signature refused (key: {:?})",
                            key.as_ref().err()
                        );
                        tally.valid += 1;
                    }
                    "invalid" => {
                        assert!(
                            !ok,
                            "{file} tcId {id} via {path}: invalid signature accepted ({})",
                            test["comment"]
                        );
                        tally.invalid += 1;
                    }
                    _ if ok => tally.acceptable_accepted += 1,
                    _ => tally.acceptable_refused += 1,
                }
            }
        }
    }
    tally
}

fn jwk_and_spki(
    alg: Algorithm,
    jwk_member: &'static str,
) -> impl Fn(&Value) -> Vec<(&'static str, Result<Key, String>)> {
    move |group| {
        let mut jwk = group[jwk_member].clone();
        if let Some(o) = jwk.as_object_mut() {
            // Only public members; the vectors' JWKs may carry private ones or other algs' names.
            o.retain(|k, _| matches!(k.as_str(), "kty" | "n" | "e" | "crv" | "x" | "y" | "kid"));
        }
        let spki = material_from_spki(&hex(group["publicKeyDer"].as_str().unwrap_or("")));
        let mut keys = vec![("SPKI", spki.and_then(|m| Key::new(None, Some(alg), m)))];
        // A few groups (keys with unusual encodings) have no JWK form.
        if jwk.is_object() {
            keys.push(("JWK", import(&jwk, Origin::Local)));
        }
        keys
    }
}

#[test]
fn rs256_rs384_rs512() {
    for (file, alg) in [
        ("rsa_signature_2048_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_3072_sha256_test.json", Algorithm::RS256),
        ("rsa_signature_2048_sha384_test.json", Algorithm::RS384),
        ("rsa_signature_2048_sha512_test.json", Algorithm::RS512),
        ("rsa_signature_4096_sha512_test.json", Algorithm::RS512),
    ] {
        let t = run(file, alg, jwk_and_spki(alg, "keyJwk"));
        // "acceptable" cases here are legacy encodings (e.g. missing NULL parameters): we refuse them.
        assert_eq!(t.acceptable_accepted, 0, "{file}: {t:?}");
        eprintln!("{file}: {t:?}");
    }
}

#[test]
fn ps256_ps384_ps512() {
    for (file, alg) in [
        ("rsa_pss_2048_sha256_mgf1_32_test.json", Algorithm::PS256),
        ("rsa_pss_2048_sha384_mgf1_48_test.json", Algorithm::PS384),
        ("rsa_pss_4096_sha512_mgf1_64_test.json", Algorithm::PS512),
    ] {
        eprintln!(
            "{file}: {:?}",
            run(file, alg, jwk_and_spki(alg, "publicKeyJwk"))
        );
    }
}

#[test]
fn es256_es384() {
    for (file, alg) in [
        ("ecdsa_secp256r1_sha256_p1363_test.json", Algorithm::ES256),
        ("ecdsa_secp384r1_sha384_p1363_test.json", Algorithm::ES384),
    ] {
        eprintln!(
            "{file}: {:?}",
            run(file, alg, jwk_and_spki(alg, "publicKeyJwk"))
        );
    }
}

#[test]
fn es512() {
    let file = "ecdsa_secp521r1_sha512_p1363_test.json";
    // Not yet in shared/testdata: run where present (WYCHEPROOF_DIR), say so where not.
    if !data_dir().is_some_and(|dir| dir.join(file).is_file()) {
        eprintln!("skipping: {file} not found (see the module doc)");
        return;
    }
    let t = run(
        file,
        Algorithm::ES512,
        jwk_and_spki(Algorithm::ES512, "publicKeyJwk"),
    );
    assert!(t.valid > 0 && t.invalid > 0, "{file}: {t:?}");
    eprintln!("{file}: {t:?}");
}

#[test]
fn eddsa_and_ed25519() {
    for alg in [Algorithm::EdDSA, Algorithm::Ed25519] {
        let t = run("ed25519_test.json", alg, jwk_and_spki(alg, "publicKeyJwk"));
        eprintln!("ed25519 as {}: {t:?}", alg.name());
    }
}

#[test]
fn hs256_hs384_hs512() {
    for (file, alg, full_tag_bits) in [
        ("hmac_sha256_test.json", Algorithm::HS256, 256),
        ("hmac_sha384_test.json", Algorithm::HS384, 384),
        ("hmac_sha512_test.json", Algorithm::HS512, 512),
    ] {
        let Some(dir) = data_dir() else { return };
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{file}: {e}"));
        let (mut checked, mut refused_short) = (0, 0);
        for group in doc["testGroups"].as_array().into_iter().flatten() {
            if group["tagSize"].as_u64() != Some(full_tag_bits) {
                continue; // truncated tags do not exist in JWS
            }
            for test in group["tests"].as_array().into_iter().flatten() {
                let k = hex(test["key"].as_str().unwrap_or(""));
                let short = k.len() < alg.min_secret_len();
                let key = Key::new(None, Some(alg), Material::Secret { k });
                if short {
                    // Keys shorter than the hash are refused (jwks-verify's rule, not a vector's).
                    assert!(
                        key.is_err(),
                        "{file} tcId {}: short key accepted",
                        test["tcId"]
                    );
                    refused_short += 1;
                    continue;
                }
                let key = key.unwrap_or_else(|e| panic!("{file}: {e}"));
                let ok = key.verify(
                    alg,
                    &hex(test["msg"].as_str().unwrap_or("")),
                    &hex(test["tag"].as_str().unwrap_or("")),
                );
                assert_eq!(
                    ok,
                    test["result"] == "valid",
                    "{file} tcId {}",
                    test["tcId"]
                );
                checked += 1;
            }
        }
        assert!(checked > 50, "{file}: only {checked} full-length tests");
        assert!(refused_short > 0, "{file}: the vectors have short keys");
    }
}
