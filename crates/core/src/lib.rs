//! The engine of jwks-verify: JWS parsing, JWK import, claim checks, JWKS fetching and caching.
//!
//! No napi here: the addon crate converts JS values to these types and back.

pub mod algorithm;
pub mod clock;
pub mod duration;
pub mod error;
pub mod json;
pub mod jwk;
pub mod key;
pub mod keyset;
pub mod token;

pub use algorithm::Algorithm;
pub use error::{Error, ErrorCode, Result};
pub mod cache;
pub mod claims;
pub mod discovery;
pub mod events;
pub mod fetch;
pub mod options;
mod registry;
pub mod runtime;
pub mod verifier;
