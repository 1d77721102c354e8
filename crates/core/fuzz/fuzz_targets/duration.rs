//! Duration strings and numbers (`duration::ms_from_str`, `ms_from_seconds`, `to_std`).
#![no_main]

use jwks_verify_core::duration::{ms_from_seconds, ms_from_str, to_std, MAX_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(ms) = ms_from_str(text) {
            assert!((0.0..=MAX_MS).contains(&ms), "{text:?} -> {ms}");
            assert!(to_std(ms).is_ok());
        }
    }
    if let Some(bytes) = data.get(..8) {
        let seconds = f64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        if let Ok(ms) = ms_from_seconds(seconds) {
            assert!((0.0..=MAX_MS).contains(&ms), "{seconds} -> {ms}");
        }
        let _ = to_std(seconds);
    }
});
