//! The engine of jwks-verify: JWS parsing, JWK import, claim checks, JWKS fetching and caching.
//! No napi here: the addon crate converts JS values to these types and back.
//!
//! # Crate map
//!
//! Dependencies point down this list, never up:
//!
//! | module | job |
//! |---|---|
//! | [`verifier`] | routing -> keys -> signature -> claims; token cache; results, stats, health |
//! | [`options`] | options read once, each value with its path for error messages |
//! | [`key_cache`] | the per-URL key cache: a [`refresh::Refresher`] of the JWKS plus the kid guard |
//! | [`revalidate`] | token liveness: validation-endpoint answers per token, each on a [`refresh::Refresher`] |
//! | [`credentials`] | the client-credentials token source: a [`refresh::Refresher`] of a token |
//! | [`discovery`] | OpenID discovery documents, on a [`refresh::Refresher`] |
//! | [`refresh`] | `Refresher`: the one single-flight / backoff / Retry-After / serve-stale state machine |
//! | [`fetch`], [`http_cache`] | the HTTP client and URL policy; freshness, validators, Retry-After |
//! | [`keyset`], [`jwk`], [`key`] | a key set indexed by kid; JWK / x5c / SPKI -> verification key |
//! | [`token`], [`json`], [`algorithm`] | compact JWS parsing, strict JSON, algorithm names and families |
//! | [`claims`], [`duration`], [`clock`] | claim checks; durations; time (a clock per Verifier) |
//! | [`events`], [`error`], [`runtime`] | events to subscribers; the one error type; the I/O runtime |
//!
//! See `docs/architecture.md` for the data flow of one verification.

pub mod algorithm;
pub mod claims;
pub mod clock;
pub mod credentials;
pub mod discovery;
pub mod duration;
pub mod error;
pub mod events;
pub mod fetch;
pub mod http_cache;
pub mod inspect;
pub mod json;
pub mod jwk;
pub mod key;
pub mod key_cache;
pub mod keyset;
pub mod options;
pub mod refresh;
mod registry;
pub mod revalidate;
pub mod runtime;
pub mod store;
pub mod token;
pub mod verifier;

pub use algorithm::Algorithm;
pub use error::{Error, ErrorCode, Result};
