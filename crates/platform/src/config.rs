//! Configuration from environment variables, each with the contract's default.
use std::fmt::Display;
use std::str::FromStr;

/// A variable is set but cannot be parsed.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {key}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    key: String,
    value: String,
    reason: String,
}

/// Reads `key` from the environment, or returns `default` when it is unset or empty.
pub fn env_or<T>(key: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match std::env::var(key) {
        Ok(value) if !value.trim().is_empty() => {
            value.trim().parse().map_err(|e: T::Err| ConfigError {
                key: key.to_owned(),
                value,
                reason: e.to_string(),
            })
        }
        _ => Ok(default),
    }
}
