//! The one error type of the engine: a stable `code` plus the details jose users know.

use std::fmt;

/// Stable error codes; the names follow jose's so code that branches on them keeps working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// Constructor or option values are wrong.
    InvalidOptions,
    /// Not a compact JWS (shape, base64url, header JSON, length, JWE).
    JwsInvalid,
    /// The payload is not a JSON object, has duplicate members or nests too deep.
    JwtInvalid,
    /// Header `alg` missing, `none`, or not allowed.
    AlgNotAllowed,
    /// `crit` names an extension we do not implement, or `b64: false`.
    NotSupported,
    /// No key fits `kid`/`kty`/`alg`/`use`.
    NoMatchingKey,
    /// The signature does not verify.
    SignatureVerificationFailed,
    /// `exp` passed, or `iat` older than `maxTokenAge`.
    Expired,
    /// A claim check failed (`claim` and `reason` say which).
    ClaimValidationFailed,
    /// The JWKS endpoint is unreachable or answered non-2xx, and no usable keys are cached.
    FetchFailed,
    /// The fetch ran out of time, and no usable keys are cached.
    Timeout,
    /// 429/503 with Retry-After, and no usable keys are cached.
    RateLimited,
    /// The body is not a JWKS, or the discovery document is invalid.
    JwksInvalid,
    /// `verifySync` before the keys are cached.
    NotLoaded,
    /// A call after `close()`.
    Closed,
    /// The issuer's validation endpoint says the token is no longer active.
    TokenInactive,
    /// The validation endpoint cannot be had, and no answer young enough is cached.
    RevalidationFailed,
    /// `verifySync` for a token whose liveness answer is missing or too old.
    RevalidationPending,
    /// TokenSource: the token endpoint refused or failed (`status`, `oauth`), or its answer
    /// holds no token.
    TokenRequestFailed,
    /// TokenSource: 429/503 with Retry-After, and no valid token cached (`retry_after`).
    TokenRateLimited,
}

impl ErrorCode {
    /// Every code, for tables and tests.
    pub const ALL: [ErrorCode; 20] = [
        ErrorCode::InvalidOptions,
        ErrorCode::JwsInvalid,
        ErrorCode::JwtInvalid,
        ErrorCode::AlgNotAllowed,
        ErrorCode::NotSupported,
        ErrorCode::NoMatchingKey,
        ErrorCode::SignatureVerificationFailed,
        ErrorCode::Expired,
        ErrorCode::ClaimValidationFailed,
        ErrorCode::FetchFailed,
        ErrorCode::Timeout,
        ErrorCode::RateLimited,
        ErrorCode::JwksInvalid,
        ErrorCode::NotLoaded,
        ErrorCode::Closed,
        ErrorCode::TokenInactive,
        ErrorCode::RevalidationFailed,
        ErrorCode::RevalidationPending,
        ErrorCode::TokenRequestFailed,
        ErrorCode::TokenRateLimited,
    ];

    /// The string JS sees as `err.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidOptions => "ERR_INVALID_OPTIONS",
            ErrorCode::JwsInvalid => "ERR_JWS_INVALID",
            ErrorCode::JwtInvalid => "ERR_JWT_INVALID",
            ErrorCode::AlgNotAllowed => "ERR_JOSE_ALG_NOT_ALLOWED",
            ErrorCode::NotSupported => "ERR_JOSE_NOT_SUPPORTED",
            ErrorCode::NoMatchingKey => "ERR_JWKS_NO_MATCHING_KEY",
            ErrorCode::SignatureVerificationFailed => "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
            ErrorCode::Expired => "ERR_JWT_EXPIRED",
            ErrorCode::ClaimValidationFailed => "ERR_JWT_CLAIM_VALIDATION_FAILED",
            ErrorCode::FetchFailed => "ERR_JWKS_FETCH_FAILED",
            ErrorCode::Timeout => "ERR_JWKS_TIMEOUT",
            ErrorCode::RateLimited => "ERR_JWKS_RATE_LIMITED",
            ErrorCode::JwksInvalid => "ERR_JWKS_INVALID",
            ErrorCode::NotLoaded => "ERR_JWKS_NOT_LOADED",
            ErrorCode::Closed => "ERR_VERIFIER_CLOSED",
            ErrorCode::TokenInactive => "ERR_TOKEN_INACTIVE",
            ErrorCode::RevalidationFailed => "ERR_REVALIDATION_FAILED",
            ErrorCode::RevalidationPending => "ERR_REVALIDATION_PENDING",
            ErrorCode::TokenRequestFailed => "ERR_TOKEN_REQUEST_FAILED",
            ErrorCode::TokenRateLimited => "ERR_TOKEN_RATE_LIMITED",
        }
    }

    /// True for the codes that describe the key source rather than the token.
    pub fn is_key_source_failure(self) -> bool {
        matches!(
            self,
            ErrorCode::FetchFailed
                | ErrorCode::Timeout
                | ErrorCode::RateLimited
                | ErrorCode::JwksInvalid
        )
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An engine error: a code, a message that says what to fix, and optional details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The stable code.
    pub code: ErrorCode,
    /// Short, lower-case, naming the claim or option.
    pub message: String,
    /// The claim that failed (`exp`, `aud`, ...).
    pub claim: Option<String>,
    /// Why the claim failed (`check_failed`, `missing`, `invalid`, ...).
    pub reason: Option<String>,
    /// The `kid` of the token, for key lookup failures (a boxed `str`: the error stays within
    /// clippy's size for `Result` errors).
    pub kid: Option<Box<str>>,
    /// The HTTP status of the failed fetch.
    pub status: Option<u16>,
    /// Seconds until the provider allows the next request.
    pub retry_after: Option<u64>,
    /// The OAuth error answer of a token endpoint (boxed: most errors have none).
    pub oauth: Option<Box<OAuthError>>,
}

/// The `error` and `error_description` members of an OAuth error answer (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// `invalid_client`, `invalid_scope`, ...
    pub error: String,
    pub description: Option<String>,
}

impl Error {
    /// A bare error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            claim: None,
            reason: None,
            kid: None,
            status: None,
            retry_after: None,
            oauth: None,
        }
    }

    /// ERR_INVALID_OPTIONS naming the option.
    pub fn options(option: &str, why: impl fmt::Display) -> Self {
        Error::new(
            ErrorCode::InvalidOptions,
            format!("option \"{option}\" {why}"),
        )
    }

    /// ERR_JWS_INVALID.
    pub fn jws(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::JwsInvalid, message)
    }

    /// ERR_JWT_INVALID.
    pub fn jwt(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::JwtInvalid, message)
    }

    /// ERR_JWKS_INVALID.
    pub fn jwks(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::JwksInvalid, message)
    }

    /// A claim failure with `claim` and `reason` set.
    pub fn claim(code: ErrorCode, claim: &str, reason: &str, message: impl Into<String>) -> Self {
        let mut e = Error::new(code, message);
        e.claim = Some(claim.to_owned());
        e.reason = Some(reason.to_owned());
        e
    }

    /// Attach a kid.
    pub fn with_kid(mut self, kid: Option<&str>) -> Self {
        self.kid = kid.map(Box::from);
        self
    }

    /// Attach an HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
