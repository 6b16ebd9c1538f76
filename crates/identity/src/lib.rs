//! Who is calling: a user token (a JWT) signed by the identity provider, verified against the keys the
//! provider publishes (a JWKS), names the user the call acts for.
//!
//! What a token must be to pass [`Verifier::verify`], in the order it is checked (each failure a
//! [`Refusal`] that says what to fix and never echoes the token):
//!
//! 1. at most [`MAX_TOKEN_BYTES`] long, a JWS in compact form;
//! 2. signed with an asymmetric algorithm — EdDSA (Ed25519), ES256 or RS256 — by a key of the set,
//!    chosen by the header's `kid` and used only with its own algorithm: `alg: none` and HMAC tokens
//!    are refused whatever they carry (an HMAC "signed" with the public key is the classic forgery);
//! 3. `exp` in the future and `nbf`, when present, in the past, both with a small leeway for clocks;
//!    `iss` and `aud` the configured ones;
//! 4. `sub` a user id: a positive decimal integer, written as such (`"01"` is not one).
//!
//! The optional `roles` claim (an array of strings) grants roles, such as loms's `support`.
//!
//! A token that passed is kept, by its exact bytes, until its `exp` (and the leeway) or until the key
//! set is read anew, whichever comes first: the next call with it costs a lookup, not a signature
//! check (`verifier.rs`, `Verified`).
//!
//! The key set comes from a file or an HTTP(S) URL ([`JwksLocation`]). It is read at start — a service
//! that cannot read a usable key there does not start — and again when its cache headers say (a
//! file: every [`DEFAULT_REFRESH`]), and at once when a token names a key the set lacks, at most once
//! per `min_refresh`. So a rotation needs no restart: the provider publishes the new key, then signs
//! with it, and drops the old one later; tokens of a dropped key are refused once the set is read
//! again.
//!
//! Services only verify. [`mint`] signs: it is the development identity provider of `just token`
//! (the `dev-idp` binary), the tests and the load generator, and signs only with a private key it is
//! given, which no service has.
mod caller;
mod config;
mod keys;
pub mod mint;
mod source;
mod verifier;

pub use caller::{Access, Caller, Refusal};
pub use config::{
    Authentication, JwksLocation, VerifySettings, DEFAULT_AUDIENCE, DEFAULT_ISSUER, JWKS_VAR,
};
pub use source::DEFAULT_REFRESH;
pub use verifier::{Authenticator, StartError, Verifier};

/// The longest token accepted, in bytes: a signed token of a user id, a few roles and the standard
/// claims is well under 1 KiB with any of the three algorithms (RS256's 4096-bit signature included).
pub const MAX_TOKEN_BYTES: usize = 4096;
