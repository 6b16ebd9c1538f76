//! Verifying a token against the key set, and keeping the key set fresh.
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock, Weak};
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use tokio::sync::{watch, Mutex};
use tokio::time::Instant;

use crate::caller::{Access, Caller, Refusal};
use crate::config::{Authentication, JwksLocation, VerifySettings};
use crate::keys::{Key, KeySet};
use crate::source::{FetchError, Source};
use crate::MAX_TOKEN_BYTES;

/// The key set could not be read at start: the service must not serve.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the identity provider's keys (AUTH_JWKS)")]
pub struct StartError(#[from] FetchError);

/// What a service that serves users checks each call with.
#[derive(Clone, Debug)]
pub enum Authenticator {
    Verify(Verifier),
    Unchecked,
}

impl Authenticator {
    /// Reads the key set (when verifying); fails when it holds no usable key.
    pub async fn start(authentication: &Authentication) -> Result<Self, StartError> {
        match authentication {
            Authentication::Verify(settings) => Ok(Self::Verify(Verifier::start(settings).await?)),
            Authentication::Unchecked => {
                tracing::warn!("AUTH_UNCHECKED_FOR_BENCHMARKS=yes: no caller is authenticated, every request's user is believed");
                Ok(Self::Unchecked)
            }
        }
    }

    /// What a call with `token` may do.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Access, Refusal> {
        match self {
            Self::Verify(verifier) => {
                let token = token.ok_or(Refusal::Missing)?;
                verifier.verify(token).await.map(Access::Caller)
            }
            Self::Unchecked => Ok(Access::Unchecked),
        }
    }
}

/// Verifies user tokens (see the crate's doc for what passes). Cheap to clone: clones share the key
/// set, which a task of their own refreshes as long as one of them lives.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("jwks", self.inner.source.location())
            .finish_non_exhaustive()
    }
}

struct Inner {
    source: Source,
    /// The claims' rules, one per algorithm (jsonwebtoken wants a key's own algorithm alone).
    rules: Rules,
    keys: RwLock<Arc<KeySet>>,
    /// When the set was last read; held while reading, so reads never overlap.
    last_read: Mutex<Instant>,
    /// When the set is due again: each read sets it, and the refreshing task sleeps until it, woken
    /// when a read for an unknown key moves it. Dropped with the verifier, which ends that task.
    next_read: watch::Sender<Instant>,
    min_refresh: Duration,
    verified: Verified,
    leeway: u64,
}

#[derive(serde::Deserialize)]
struct Claims {
    /// Optional here so that a token without one is refused as such by the required claims.
    sub: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
    /// Required by the rules; here for the cache of verified tokens.
    #[serde(default)]
    exp: u64,
}

/// The most verified tokens kept ([`Verified`]): a few MB at most, and past it the cache starts again.
const MAX_VERIFIED: usize = 10_000;

/// Tokens that verified, by the token itself, until their `exp` (with the leeway). A user sends the
/// same token with every call, and cart passes it on to product-service and loms, so one verification
/// serves them all; without the cache the signature checks halved the shopping flow's throughput
/// (BENCHMARKS.md). Only the exact same bytes hit, and the cache is emptied whenever the key set is read
/// anew, so a key the provider drops stops its tokens at the same moment as without the cache. Each
/// emptying starts a new generation: a token verified with the keys of an earlier one is not kept.
#[derive(Default)]
struct Verified {
    tokens: std::sync::Mutex<Generation>,
}

/// The tokens verified with the key set of one read.
#[derive(Default)]
struct Generation {
    number: u64,
    tokens: HashMap<String, (Caller, u64)>,
}

impl Verified {
    fn get(&self, token: &str, leeway: u64) -> Option<Caller> {
        let generation = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let (caller, exp) = generation.tokens.get(token)?;
        (jsonwebtoken::get_current_timestamp() <= exp.saturating_add(leeway))
            .then(|| caller.clone())
    }

    /// The generation a verification that starts now belongs to.
    fn generation(&self) -> u64 {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .number
    }

    /// Keeps `token`, verified in generation `number`, unless the key set was read since.
    fn insert(&self, number: u64, token: &str, caller: &Caller, exp: u64) {
        let mut generation = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        if generation.number != number {
            return;
        }
        if generation.tokens.len() >= MAX_VERIFIED {
            generation.tokens.clear();
        }
        generation
            .tokens
            .insert(token.to_owned(), (caller.clone(), exp));
    }

    fn clear(&self) {
        let mut generation = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        generation.number += 1;
        generation.tokens.clear();
    }
}

impl Verifier {
    /// Reads the key set and starts keeping it fresh (see [`crate::source`]).
    pub async fn start(settings: &VerifySettings) -> Result<Self, StartError> {
        let source = Source::new(&settings.jwks)?;
        let fetched = source.fetch().await?;
        tracing::info!(jwks = ?settings.jwks, keys = fetched.keys.len(), "identity provider's keys read");
        let now = Instant::now();
        let (next_read, due) = watch::channel(now + fetched.keep_for.max(settings.min_refresh));
        let inner = Arc::new(Inner {
            source,
            rules: Rules::new(settings),
            keys: RwLock::new(Arc::new(fetched.keys)),
            last_read: Mutex::new(now),
            next_read,
            min_refresh: settings.min_refresh,
            verified: Verified::default(),
            leeway: settings.leeway.as_secs(),
        });
        if !matches!(settings.jwks, JwksLocation::Inline(_)) {
            tokio::spawn(keep_fresh(Arc::downgrade(&inner), due));
        }
        Ok(Self { inner })
    }

    /// The caller `token` names, if it passes every check.
    pub async fn verify(&self, token: &str) -> Result<Caller, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::TooLong {
                max: MAX_TOKEN_BYTES,
            });
        }
        if let Some(caller) = self.inner.verified.get(token, self.inner.leeway) {
            return Ok(caller);
        }
        let generation = self.inner.verified.generation();
        let header = jsonwebtoken::decode_header(token).map_err(|_| Refusal::Malformed)?;
        match header.alg {
            Algorithm::HS256 => return Err(Refusal::SymmetricAlgorithm("HS256")),
            Algorithm::HS384 => return Err(Refusal::SymmetricAlgorithm("HS384")),
            Algorithm::HS512 => return Err(Refusal::SymmetricAlgorithm("HS512")),
            _ => {}
        }
        let kid = header.kid.ok_or(Refusal::NoKeyId)?;
        let key = self.key(&kid).await.ok_or(Refusal::UnknownKey)?;
        if key.algorithm != header.alg {
            return Err(Refusal::WrongAlgorithm);
        }
        let claims = jsonwebtoken::decode::<Claims>(
            token,
            &key.decoding,
            self.inner.rules.of(key.algorithm),
        )
        .map_err(|e| refusal(e.kind()))?
        .claims;
        let sub = claims
            .sub
            .ok_or_else(|| Refusal::MissingClaim("sub".into()))?;
        let user = sub
            .parse::<i64>()
            .ok()
            .filter(|&user| user > 0 && user.to_string() == sub)
            .ok_or(Refusal::NotAUser)?;
        let caller = Caller::new(user, claims.roles);
        self.inner
            .verified
            .insert(generation, token, &caller, claims.exp);
        Ok(caller)
    }

    /// The key `kid` names; a key the set lacks makes it read again, at most once per `min_refresh`.
    async fn key(&self, kid: &str) -> Option<Key> {
        if let Some(key) = self.inner.current().get(kid) {
            return Some(key.clone());
        }
        let mut last_read = self.inner.last_read.lock().await;
        // Another call may have read it while this one waited.
        if let Some(key) = self.inner.current().get(kid) {
            return Some(key.clone());
        }
        if last_read.elapsed() < self.inner.min_refresh {
            return None;
        }
        self.inner.read_again(&mut last_read).await;
        self.inner.current().get(kid).cloned()
    }
}

impl Inner {
    fn current(&self) -> Arc<KeySet> {
        self.keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the set again, and sets when to read it next: when what it read expires, or, when the
    /// read failed, as soon as allowed — keeping the keys it had, so that a provider that is briefly
    /// down locks no user out.
    async fn read_again(&self, last_read: &mut Instant) {
        let keep_for = match self.source.fetch().await {
            Ok(fetched) => {
                tracing::info!(jwks = ?self.source.location(), keys = fetched.keys.len(), "identity provider's keys read again");
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(fetched.keys);
                // What the old set verified is verified again by the new one.
                self.verified.clear();
                fetched.keep_for
            }
            Err(error) => {
                tracing::warn!(error = %telemetry::error_chain(&error), "cannot read the identity provider's keys again; keeping the ones read before");
                Duration::ZERO
            }
        };
        let now = Instant::now();
        *last_read = now;
        self.next_read
            .send_replace(now + keep_for.max(self.min_refresh));
    }
}

/// Reads the set again whenever what was read last expires — a read for an unknown key moves that
/// moment too — until the last [`Verifier`] is gone.
async fn keep_fresh(inner: Weak<Inner>, mut due: watch::Receiver<Instant>) {
    loop {
        let next = *due.borrow_and_update();
        tokio::select! {
            () = tokio::time::sleep_until(next) => {
                let Some(inner) = inner.upgrade() else {
                    return;
                };
                let mut last_read = inner.last_read.lock().await;
                if Instant::now() >= *inner.next_read.borrow() {
                    inner.read_again(&mut last_read).await;
                }
            }
            moved = due.changed() => {
                if moved.is_err() {
                    return;
                }
            }
        }
    }
}

/// The claims' rules for each algorithm a key may have.
struct Rules {
    eddsa: Validation,
    es256: Validation,
    rs256: Validation,
}

impl Rules {
    fn new(settings: &VerifySettings) -> Self {
        let rules = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.leeway = settings.leeway.as_secs();
            validation.validate_nbf = true;
            validation.set_issuer(&[&settings.issuer]);
            validation.set_audience(&[&settings.audience]);
            validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
            validation
        };
        Self {
            eddsa: rules(Algorithm::EdDSA),
            es256: rules(Algorithm::ES256),
            rs256: rules(Algorithm::RS256),
        }
    }

    /// A key set holds only these three algorithms (`keys.rs`).
    fn of(&self, algorithm: Algorithm) -> &Validation {
        match algorithm {
            Algorithm::ES256 => &self.es256,
            Algorithm::RS256 => &self.rs256,
            _ => &self.eddsa,
        }
    }
}

/// The refusal for what jsonwebtoken found wrong.
fn refusal(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::MissingRequiredClaim(claim) => Refusal::MissingClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm => Refusal::WrongAlgorithm,
        ErrorKind::Json(_) => Refusal::BadClaims,
        _ => Refusal::Malformed,
    }
}

#[cfg(test)]
mod tests;
