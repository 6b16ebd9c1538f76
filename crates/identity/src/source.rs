//! Reading the key set where the provider publishes it, and when to read it again.
use std::time::Duration;

use crate::config::JwksLocation;
use crate::keys::{KeySet, KeySetError};

/// How long a key set without cache headers (a file's, or a response without `max-age`) is kept
/// before it is read again.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(300);
/// The longest a key set is kept, whatever its cache headers say.
const MAX_REFRESH: Duration = Duration::from_secs(86_400);
/// The largest key set document read: a set of a few dozen RSA keys is tens of KiB.
const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;
/// How long one fetch of the key set may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// A key set, and how long it may be kept.
pub(crate) struct Fetched {
    pub(crate) keys: KeySet,
    pub(crate) keep_for: Duration,
}

/// The key set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("cannot read the key set file {path}")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot fetch the key set from {url}")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("no HTTP client to fetch the key set at {0}")]
    NoClient(String),
    #[error("the key set at {url} answered HTTP {status}")]
    Status { url: String, status: u16 },
    #[error("the key set document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("the key set at {at} is unusable")]
    Unusable {
        at: String,
        #[source]
        source: KeySetError,
    },
}

/// Where the key set is read from, with the HTTP client a URL needs (only a URL: its TLS roots cost
/// a service that reads a file a few MB of memory for nothing).
pub(crate) struct Source {
    location: JwksLocation,
    client: Option<reqwest::Client>,
}

impl Source {
    pub(crate) fn new(location: &JwksLocation) -> Result<Self, FetchError> {
        let client = match location {
            JwksLocation::Url(url) => Some(
                reqwest::Client::builder()
                    .timeout(FETCH_TIMEOUT)
                    .build()
                    .map_err(|source| FetchError::Http {
                        url: url.clone(),
                        source,
                    })?,
            ),
            JwksLocation::File(_) | JwksLocation::Inline(_) => None,
        };
        Ok(Self {
            location: location.clone(),
            client,
        })
    }

    pub(crate) fn location(&self) -> &JwksLocation {
        &self.location
    }

    /// Reads the key set.
    pub(crate) async fn fetch(&self) -> Result<Fetched, FetchError> {
        fetch(&self.location, self.client.as_ref()).await
    }
}

/// Reads the key set at `location`; `client` is there for a URL.
async fn fetch(
    location: &JwksLocation,
    client: Option<&reqwest::Client>,
) -> Result<Fetched, FetchError> {
    let (document, keep_for, at) = match location {
        JwksLocation::File(path) => {
            let document = tokio::fs::read(path)
                .await
                .map_err(|source| FetchError::File {
                    path: path.display().to_string(),
                    source,
                })?;
            (document, DEFAULT_REFRESH, path.display().to_string())
        }
        JwksLocation::Url(url) => {
            let client = client.ok_or_else(|| FetchError::NoClient(url.clone()))?;
            let (document, max_age) = get(client, url).await?;
            (document, max_age.unwrap_or(DEFAULT_REFRESH), url.clone())
        }
        JwksLocation::Inline(document) => {
            (document.as_bytes().to_vec(), MAX_REFRESH, "inline".into())
        }
    };
    if document.len() > MAX_DOCUMENT_BYTES {
        return Err(FetchError::TooLarge);
    }
    let keys = KeySet::parse(&document).map_err(|source| FetchError::Unusable { at, source })?;
    Ok(Fetched {
        keys,
        keep_for: keep_for.min(MAX_REFRESH),
    })
}

/// The document at `url`, read up to the size limit, and its `max-age`.
async fn get(
    client: &reqwest::Client,
    url: &str,
) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
    let http = |source| FetchError::Http {
        url: url.to_owned(),
        source,
    };
    let mut response = client.get(url).send().await.map_err(http)?;
    if !response.status().is_success() {
        return Err(FetchError::Status {
            url: url.to_owned(),
            status: response.status().as_u16(),
        });
    }
    let max_age = response
        .headers()
        .get(reqwest::header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .and_then(max_age);
    let mut document = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(http)? {
        if document.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(FetchError::TooLarge);
        }
        document.extend_from_slice(&chunk);
    }
    Ok((document, max_age))
}

/// How long a response may be kept, from its `Cache-Control`: `max-age=N`, or nothing for `no-store`
/// and `no-cache` (read again as soon as allowed).
fn max_age(cache_control: &str) -> Option<Duration> {
    cache_control.split(',').find_map(|directive| {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Some(Duration::ZERO);
        }
        let seconds = directive.strip_prefix("max-age=")?;
        seconds
            .trim_matches('"')
            .parse()
            .ok()
            .map(Duration::from_secs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_from_cache_control() {
        assert_eq!(max_age("public, max-age=60"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("Max-Age=\"5\""), Some(Duration::from_secs(5)));
        assert_eq!(max_age("no-store"), Some(Duration::ZERO));
        assert_eq!(max_age("public"), None);
        assert_eq!(max_age("max-age=soon"), None);
    }
}
