//! product-service settings, from the environment. Unusable values stop the service at start.
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use env_config::{env_in_range, env_or, env_set, ConfigError};
use identity::Authentication;
use server::context::AuthToken;
use server::grpc::ServerLimits;

/// The most calls per second `PRODUCT_RPS` and `PRODUCT_BURST` may name.
pub(crate) const MAX_RPS: u32 = 1_000_000;
/// The longest artificial delay `PRODUCT_LATENCY_MS` may ask for: one minute.
pub(crate) const MAX_LATENCY_MS: u64 = 60_000;

/// What the service needs to start. Its `Debug` output shows no token.
#[derive(Clone, Debug)]
pub struct Config {
    /// gRPC listen address (`PRODUCT_GRPC_ADDR`, default `127.0.0.1:8090`); port 0 picks a free one.
    pub grpc_addr: SocketAddr,
    /// HTTP listen address: JSON gateway, Swagger UI, health and metrics (`PRODUCT_HTTP_ADDR`, default
    /// `127.0.0.1:8091`); port 0 picks a free one.
    pub http_addr: SocketAddr,
    /// Accepted tokens (`PRODUCT_TOKENS`, comma-separated, default `testtoken`). Set but holding no
    /// token, it stops the start: an empty list must not quietly mean the well-known default.
    pub tokens: Vec<AuthToken>,
    /// Requests per second the service accepts from all callers together (`PRODUCT_RPS`, default 10,
    /// at most 1,000,000); 0 switches the limit off.
    pub rps: u32,
    /// How many requests may come at once before the rate applies (`PRODUCT_BURST`, default: the rate).
    pub burst: u32,
    /// Artificial delay of every answer (`PRODUCT_LATENCY_MS`, default 0, at most 60,000), to make a
    /// caller's concurrency measurable.
    pub latency: Duration,
    /// A catalogue file in the course's JSON format (`PRODUCT_CATALOGUE_FILE`) replacing the built-in one.
    pub catalogue_file: Option<PathBuf>,
    /// The gRPC server's limits (see [`ServerLimits::from_env`]).
    pub limits: ServerLimits,
    /// How user tokens are verified (`AUTH_*`, see [`Authentication::from_env`]; `AUTH_JWKS` is
    /// required): any user may read the catalogue. The default holds no key, so a test gives its own.
    pub authentication: Authentication,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 8090)),
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8091)),
            tokens: AuthToken::new("testtoken").into_iter().collect(),
            rps: 10,
            burst: 10,
            latency: Duration::ZERO,
            catalogue_file: None,
            limits: ServerLimits::default(),
            authentication: Authentication::no_keys(),
        }
    }
}

impl Config {
    /// The defaults, overridden by whatever the environment sets.
    pub fn from_env() -> Result<Self, ConfigError> {
        let default = Self::default();
        let tokens = match env_set("PRODUCT_TOKENS") {
            Some(list) => parse_tokens(&list)?,
            None => default.tokens,
        };
        let rps = env_in_range("PRODUCT_RPS", default.rps, 0..=MAX_RPS)?;
        let catalogue_file: String = env_or("PRODUCT_CATALOGUE_FILE", String::new())?;
        Ok(Self {
            grpc_addr: env_or("PRODUCT_GRPC_ADDR", default.grpc_addr)?,
            http_addr: env_or("PRODUCT_HTTP_ADDR", default.http_addr)?,
            tokens,
            rps,
            burst: env_in_range("PRODUCT_BURST", rps.max(1), 1..=MAX_RPS)?,
            latency: Duration::from_millis(env_in_range(
                "PRODUCT_LATENCY_MS",
                0,
                0..=MAX_LATENCY_MS,
            )?),
            catalogue_file: (!catalogue_file.is_empty()).then(|| catalogue_file.into()),
            limits: ServerLimits::from_env()?,
            authentication: Authentication::from_env()?,
        })
    }
}

/// `PRODUCT_TOKENS`: comma-separated tokens, each visible ASCII without spaces; at least one.
fn parse_tokens(list: &str) -> Result<Vec<AuthToken>, ConfigError> {
    let invalid = |reason: &str| ConfigError::new("PRODUCT_TOKENS", "<redacted>", reason);
    let tokens = list
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            AuthToken::new(t).ok_or_else(|| invalid("a token must be visible ASCII without spaces"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if tokens.is_empty() {
        return Err(invalid(
            "set but holds no token; refusing to start with no way to authenticate (unset it for the default)",
        ));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_or_blank_token_list_is_refused() {
        for list in ["", " ", " , ,"] {
            let error = parse_tokens(list).expect_err("no token");
            assert!(error.to_string().contains("PRODUCT_TOKENS"), "{error}");
        }
    }

    #[test]
    fn tokens_are_split_trimmed_and_checked() {
        let tokens = parse_tokens(" a1 ,b2,,").expect("two tokens");
        let exposed: Vec<_> = tokens.iter().map(AuthToken::expose).collect();
        assert_eq!(exposed, ["a1", "b2"]);
        assert!(parse_tokens("ok,not ok").is_err());
    }

    #[test]
    fn errors_and_debug_output_never_show_a_token() {
        let error = parse_tokens("secret-1,bad token").expect_err("space");
        assert!(!error.to_string().contains("secret-1"));
        let config = Config {
            tokens: parse_tokens("secret-2").expect("valid"),
            ..Config::default()
        };
        assert!(!format!("{config:?}").contains("secret-2"));
    }
}
