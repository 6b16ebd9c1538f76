//! How a service that serves users authenticates them, from the environment. Fail closed: without
//! `AUTH_JWKS` such a service does not start.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use env_config::{env_in_range, env_or, env_set, ConfigError};

/// Where the identity provider publishes its keys.
#[derive(Clone, PartialEq, Eq)]
pub enum JwksLocation {
    /// A JWKS file, read again every [`crate::DEFAULT_REFRESH`].
    File(PathBuf),
    /// An `http://` or `https://` URL, fetched again when its `Cache-Control: max-age` says.
    Url(String),
    /// A JWKS document given in the settings (tests); never read again.
    Inline(Arc<str>),
}

impl std::fmt::Debug for JwksLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "File({})", path.display()),
            Self::Url(url) => write!(f, "Url({url})"),
            Self::Inline(_) => f.write_str("Inline"),
        }
    }
}

impl JwksLocation {
    /// `http://…` and `https://…` are URLs; anything else is a file's path.
    pub fn parse(value: &str) -> Self {
        let lower = value.to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            Self::Url(value.to_owned())
        } else {
            Self::File(PathBuf::from(value))
        }
    }
}

/// What a token must satisfy besides its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifySettings {
    /// The provider's key set (`AUTH_JWKS`: a file's path or an http(s) URL; required).
    pub jwks: JwksLocation,
    /// The `iss` a token must carry (`AUTH_ISSUER`, default `route256-dev`).
    pub issuer: String,
    /// The `aud` a token must carry (`AUTH_AUDIENCE`, default `route256`).
    pub audience: String,
    /// How far `exp` and `nbf` may be off, for clocks that disagree (`AUTH_LEEWAY_SECS`, default 30,
    /// 0 to 300).
    pub leeway: Duration,
    /// The key set is read again for a token of an unknown key at most this often
    /// (`AUTH_JWKS_MIN_REFRESH_MS`, default 10000, 100 to 3600000): a flood of made-up `kid`s costs
    /// the provider one fetch per period.
    pub min_refresh: Duration,
}

/// The issuer a development token names unless `AUTH_ISSUER` says otherwise.
pub const DEFAULT_ISSUER: &str = "route256-dev";
/// The audience a development token names unless `AUTH_AUDIENCE` says otherwise.
pub const DEFAULT_AUDIENCE: &str = "route256";

impl VerifySettings {
    /// Settings for the key set at `jwks`, the rest the defaults.
    pub fn new(jwks: JwksLocation) -> Self {
        Self {
            jwks,
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            leeway: Duration::from_secs(30),
            min_refresh: Duration::from_secs(10),
        }
    }
}

/// Whether and how a service checks who calls it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Authentication {
    /// Every call but the open ones needs a user token that verifies.
    Verify(VerifySettings),
    /// Nobody is checked and every `user` field is believed: the bench's baseline only, set by
    /// `AUTH_UNCHECKED_FOR_BENCHMARKS=yes`, and loudly logged at start.
    Unchecked,
}

impl Authentication {
    /// Verification against an empty key set: a service configured so does not start. The default
    /// of the services' settings, so that only the environment or a test's own keys let one start.
    pub fn no_keys() -> Self {
        Self::Verify(VerifySettings::new(JwksLocation::Inline(
            r#"{"keys": []}"#.into(),
        )))
    }
}

/// The variable that names the key set.
pub const JWKS_VAR: &str = "AUTH_JWKS";
const UNCHECKED_VAR: &str = "AUTH_UNCHECKED_FOR_BENCHMARKS";

impl Authentication {
    /// From `AUTH_JWKS`, `AUTH_ISSUER`, `AUTH_AUDIENCE`, `AUTH_LEEWAY_SECS`,
    /// `AUTH_JWKS_MIN_REFRESH_MS` (see [`VerifySettings`]), or `AUTH_UNCHECKED_FOR_BENCHMARKS=yes`.
    /// `AUTH_JWKS` unset is an error naming it.
    pub fn from_env() -> Result<Self, ConfigError> {
        match env_set(UNCHECKED_VAR).as_deref().map(str::trim) {
            None | Some("") => {}
            Some("yes") => return Ok(Self::Unchecked),
            Some(other) => {
                return Err(ConfigError::new(
                    UNCHECKED_VAR,
                    other,
                    "only `yes` turns authentication off (benchmarks only); unset it otherwise",
                ))
            }
        }
        let jwks = env_set(JWKS_VAR).unwrap_or_default();
        if jwks.trim().is_empty() {
            return Err(ConfigError::new(
                JWKS_VAR,
                &jwks,
                "required: this service serves users and checks their tokens against the identity \
                 provider's keys; set it to a JWKS file's path or an http(s):// URL (`just run-all` \
                 makes a development one)",
            ));
        }
        let defaults = VerifySettings::new(JwksLocation::parse(jwks.trim()));
        Ok(Self::Verify(VerifySettings {
            issuer: env_or("AUTH_ISSUER", defaults.issuer.clone())?,
            audience: env_or("AUTH_AUDIENCE", defaults.audience.clone())?,
            leeway: Duration::from_secs(env_in_range("AUTH_LEEWAY_SECS", 30, 0..=300)?),
            min_refresh: Duration::from_millis(env_in_range(
                "AUTH_JWKS_MIN_REFRESH_MS",
                10_000,
                100..=3_600_000,
            )?),
            ..defaults
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_fetched_and_anything_else_is_a_file() {
        assert_eq!(
            JwksLocation::parse("HTTPS://idp/keys"),
            JwksLocation::Url("HTTPS://idp/keys".into())
        );
        assert_eq!(
            JwksLocation::parse("http://127.0.0.1:1/jwks.json"),
            JwksLocation::Url("http://127.0.0.1:1/jwks.json".into())
        );
        assert_eq!(
            JwksLocation::parse("/etc/idp/jwks.json"),
            JwksLocation::File("/etc/idp/jwks.json".into())
        );
    }
}
