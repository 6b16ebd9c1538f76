//! Settings from environment variables, each with the contract's default: the parsing every service
//! and shared crate uses. Owns nothing else, and imports no other crate of the workspace.
//!
//! Fail closed: a variable that is set but unusable stops the service at start with a message naming
//! it, instead of a silent fallback to a default or a crash later.
use std::fmt::Display;
use std::ops::RangeInclusive;
use std::str::FromStr;

/// A variable is set but cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {key}={value:?} is invalid: {reason}")]
pub struct ConfigError {
    key: String,
    value: String,
    reason: String,
}

impl ConfigError {
    pub fn new(key: &str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The value of `key` when it is set, even to an empty string; `None` when it is unset.
pub fn env_set(key: &str) -> Option<String> {
    std::env::var(key).ok()
}

/// Reads `key` from the environment, or returns `default` when it is unset or empty.
pub fn env_or<T>(key: &str, default: T) -> Result<T, ConfigError>
where
    T: FromStr,
    T::Err: Display,
{
    match std::env::var(key) {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map_err(|e: T::Err| ConfigError::new(key, &value, e.to_string())),
        _ => Ok(default),
    }
}

/// Like [`env_or`], and the value (the default included) must lie in `range`.
pub fn env_in_range<T>(key: &str, default: T, range: RangeInclusive<T>) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
    T::Err: Display,
{
    let value = env_or(key, default)?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::new(
            key,
            &value.to_string(),
            format!("must be {} to {}", range.start(), range.end()),
        ))
    }
}

/// For tests of settings (feature `testing`): sets `vars`, runs `read`, then unsets them. The process's
/// environment is shared, so such a test belongs in a test binary of its own.
#[cfg(feature = "testing")]
pub fn with_vars<T>(vars: &[(&str, &str)], read: impl FnOnce() -> T) -> T {
    for (key, value) in vars {
        std::env::set_var(key, value);
    }
    let read = read();
    for (key, _) in vars {
        std::env::remove_var(key);
    }
    read
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each test uses variables of its own: tests run in parallel in one process.

    #[test]
    fn unset_or_empty_is_the_default() {
        assert_eq!(env_or("ROUTE256_TEST_UNSET", 7u32).ok(), Some(7));
        std::env::set_var("ROUTE256_TEST_EMPTY", " ");
        assert_eq!(env_or("ROUTE256_TEST_EMPTY", 7u32).ok(), Some(7));
        assert_eq!(env_set("ROUTE256_TEST_EMPTY").as_deref(), Some(" "));
        assert_eq!(env_set("ROUTE256_TEST_UNSET"), None);
    }

    #[test]
    fn out_of_range_and_unparsable_values_are_errors() {
        std::env::set_var("ROUTE256_TEST_HUGE", "4294967295");
        let error = env_in_range("ROUTE256_TEST_HUGE", 10u32, 0..=100_000).expect_err("too big");
        let message = error.to_string();
        assert!(message.contains("ROUTE256_TEST_HUGE"), "{message}");
        assert!(message.contains("0 to 100000"), "{message}");
        std::env::set_var("ROUTE256_TEST_WORD", "ten");
        assert!(env_in_range("ROUTE256_TEST_WORD", 10u32, 0..=100).is_err());
        std::env::set_var("ROUTE256_TEST_FINE", "100");
        assert_eq!(
            env_in_range("ROUTE256_TEST_FINE", 10u32, 0..=100).ok(),
            Some(100)
        );
    }
}
