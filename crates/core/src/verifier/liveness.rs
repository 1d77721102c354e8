//! Liveness inside a verification: a JWS token is asked about only after its signature and
//! claims pass (a forged token never costs an endpoint call); an opaque token (`revalidate.opaque`,
//! not a compact JWS) goes to its issuer's endpoint at once.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::revalidate::{Answer, Cached, Slot};
use crate::verifier::result::Verified;
use crate::verifier::Inner;

/// Liveness known without I/O.
pub enum Now {
    /// Live (the answer, when the issuer revalidates), or no revalidation configured.
    Live(Option<Arc<Answer>>),
    /// The endpoint must be asked.
    Pending,
}

/// True when a token is not a compact JWS (not exactly two dots).
pub fn is_opaque(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() != 2
}

impl Inner {
    /// The issuer that takes opaque tokens: the first with `revalidate.opaque`.
    pub(super) fn opaque_issuer(&self) -> Option<usize> {
        self.issuers
            .iter()
            .position(|i| i.revalidator.as_ref().is_some_and(|r| r.options().opaque))
    }

    /// An opaque token must fit in an `Authorization: Bearer` header (RFC 6750 `b64token`) and
    /// in `maxTokenLength`.
    pub(super) fn check_opaque_shape(&self, token: &str) -> Result<()> {
        if token.len() > self.options.max_token_length {
            return Err(Error::jws(format!(
                "token is longer than maxTokenLength ({} characters)",
                self.options.max_token_length
            )));
        }
        let body = token.trim_end_matches('=');
        let ok = !body.is_empty()
            && body
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
        if !ok {
            return Err(Error::jws(
                "token is neither a compact JWS nor an opaque bearer token (RFC 6750 characters only)",
            ));
        }
        Ok(())
    }

    /// Liveness of `token` for issuer `index` from cached answers only (`known`: the token's
    /// answer slot, when its token-cache entry kept one).
    pub(super) fn live_now(
        &self,
        index: usize,
        token: &str,
        now: u64,
        known: Option<&Slot>,
    ) -> Result<Now> {
        let Some(r) = &self.issuers[index].revalidator else {
            return Ok(Now::Live(None));
        };
        match r.cached(token, now, known) {
            Cached::Active(answer) => Ok(Now::Live(Some(answer))),
            Cached::Inactive(e) => Err(e),
            Cached::Pending => Ok(Now::Pending),
        }
    }

    /// Liveness of `token` for issuer `index`, asking the endpoint when needed.
    pub(super) async fn live(
        &self,
        index: usize,
        token: &str,
        exp: Option<f64>,
    ) -> Result<Option<(Arc<Answer>, Slot)>> {
        match &self.issuers[index].revalidator {
            None => Ok(None),
            Some(r) => r.check(token, exp).await.map(Some),
        }
    }

    /// The result of an opaque token: the endpoint's answer, `header: null`, the issuer.
    pub(super) fn opaque_result(&self, index: usize, answer: Option<Arc<Answer>>) -> Verified {
        let issuer = &self.issuers[index];
        Verified::opaque(
            answer.as_ref().and_then(|a| a.payload_json.as_deref()),
            issuer
                .options
                .issuer
                .as_ref()
                .map(|_| Arc::clone(&issuer.name)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opaque_means_not_two_dots() {
        assert!(!is_opaque("a.b.c"));
        assert!(is_opaque("abc"));
        assert!(is_opaque("a.b"));
        assert!(is_opaque("a.b.c.d.e"), "a JWE is not a JWS either");
    }
}
