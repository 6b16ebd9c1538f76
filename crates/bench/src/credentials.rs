//! How the load generators call as their users: with a token per user signed by the development
//! identity provider (`ROUTE256_SIGNING_KEY`: its private key's PEM file, which the scripts pass), or
//! with one static token for every call (services with authentication off: the benchmark's baseline).
use std::time::Duration;

use anyhow::Context;
use identity::mint::SigningKey;
use tonic::metadata::{Ascii, MetadataValue};

/// A run's tokens last this long: longer than any run.
const TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// See the module doc.
#[derive(Clone, Debug)]
pub enum Credentials {
    /// One token for every call, e.g. product-service's `testtoken`.
    Static(String),
    /// A token of each user, signed with this key.
    Signed(Box<SigningKey>),
}

impl Default for Credentials {
    fn default() -> Self {
        Self::Static("testtoken".into())
    }
}

impl Credentials {
    /// `ROUTE256_SIGNING_KEY`'s key when it is set (and not empty), else `testtoken`.
    pub fn from_env() -> anyhow::Result<Self> {
        match std::env::var_os("ROUTE256_SIGNING_KEY").filter(|path| !path.is_empty()) {
            Some(path) => {
                let pem = std::fs::read_to_string(&path)
                    .with_context(|| format!("ROUTE256_SIGNING_KEY={}", path.to_string_lossy()))?;
                let key = SigningKey::from_pem(&pem).context("ROUTE256_SIGNING_KEY")?;
                Ok(Self::Signed(Box::new(key)))
            }
            None => Ok(Self::default()),
        }
    }

    /// `Bearer <token>` for calls acting for `user`.
    pub fn bearer(&self, user: i64) -> anyhow::Result<MetadataValue<Ascii>> {
        let token = match self {
            Self::Static(token) => token.clone(),
            Self::Signed(key) => key.token_for(user, TOKEN_TTL)?,
        };
        format!("Bearer {token}")
            .parse()
            .context("the token must be printable ASCII")
    }
}

/// `message` as a request with `authorization: <bearer>` (from [`Credentials::bearer`]).
pub fn with_bearer<T>(message: T, bearer: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", bearer.clone());
    request
}
