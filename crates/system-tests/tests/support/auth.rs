//! The tests' identity provider: one Ed25519 key per test process, the key set the services trust
//! (in their settings, or in a file for the binaries), and tokens signed by it.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use identity::mint::{key_set, SigningKey, TokenClaims};
use identity::{Authentication, JwksLocation, VerifySettings};

/// A user no test orders for: support staff, whose token reads every order.
pub(crate) const SUPPORT_USER: i64 = 999_999_999;

/// The provider's key.
pub(crate) fn provider() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::generate().expect("a key"))
}

/// How the in-process services authenticate: against the provider's key set.
pub(crate) fn authentication() -> Authentication {
    Authentication::Verify(VerifySettings::new(JwksLocation::Inline(
        key_set(&[provider()]).into(),
    )))
}

/// The provider's key set in a file, for services run as binaries (`AUTH_JWKS`).
pub(crate) fn jwks_file() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("route256-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a folder for the key set");
        let path = dir.join("jwks.json");
        std::fs::write(&path, key_set(&[provider()])).expect("the key set written");
        path
    })
    .clone()
}

/// A token of `user`, valid for an hour (made once per user and process).
pub(crate) fn token_for(user: i64) -> String {
    static TOKENS: OnceLock<Mutex<HashMap<i64, String>>> = OnceLock::new();
    let tokens = TOKENS.get_or_init(Mutex::default);
    let mut tokens = tokens.lock().unwrap_or_else(PoisonError::into_inner);
    tokens
        .entry(user)
        .or_insert_with(|| {
            provider()
                .token_for(user, Duration::from_secs(3600))
                .expect("a token")
        })
        .clone()
}

/// The token a request acting for `user` is sent with: `user`'s, or, when `user` is no user id (a
/// test of validation), user 1's, so that the request gets as far as validation.
pub(crate) fn token_acting_for(user: i64) -> String {
    token_for(if user > 0 { user } else { 1 })
}

/// A token of support staff ([`SUPPORT_USER`]).
pub(crate) fn support_token() -> String {
    let claims =
        TokenClaims::for_user(SUPPORT_USER, Duration::from_secs(3600)).with_role("support");
    provider().sign(&claims).expect("a token")
}

/// `request` with `authorization: Bearer <token>`, unless it carries a credential already.
pub(crate) fn bearer<T>(
    mut request: tonic::Request<T>,
    token: impl FnOnce() -> String,
) -> tonic::Request<T> {
    let metadata = request.metadata_mut();
    if !metadata.contains_key("authorization") && !metadata.contains_key("x-api-key") {
        let value = format!("Bearer {}", token()).parse().expect("ascii");
        metadata.insert("authorization", value);
    }
    request
}
