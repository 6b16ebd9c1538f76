//! A key set (JWKS, RFC 7517) as verification uses it: each usable key by its `kid`, with the one
//! algorithm it verifies. What the provider publishes and we cannot use safely is skipped and logged.
use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// A key of the set.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) algorithm: Algorithm,
    pub(crate) decoding: DecodingKey,
}

/// The usable keys of a key set, by `kid`.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: HashMap<String, Key>,
}

/// The document is not a key set, or holds no key we can use.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("not a JWKS document (a JSON object with a `keys` array)")]
    NotAKeySet(#[source] serde_json::Error),
    #[error("no usable key: {0}")]
    NoUsableKey(String),
}

#[derive(serde::Deserialize)]
struct Document {
    keys: Vec<serde_json::Value>,
}

impl KeySet {
    /// The usable keys of a JWKS document; fails when there is none, naming why each was skipped.
    pub(crate) fn parse(document: &[u8]) -> Result<Self, KeySetError> {
        let document: Document =
            serde_json::from_slice(document).map_err(KeySetError::NotAKeySet)?;
        let mut keys = HashMap::new();
        let mut skipped = Vec::new();
        for value in document.keys {
            match usable(value) {
                Ok((kid, key)) => {
                    keys.insert(kid, key);
                }
                Err(why) => {
                    tracing::warn!(%why, "key of the identity provider's set skipped");
                    skipped.push(why);
                }
            }
        }
        if keys.is_empty() {
            let why = if skipped.is_empty() {
                "the set is empty".to_owned()
            } else {
                skipped.join("; ")
            };
            return Err(KeySetError::NoUsableKey(why));
        }
        Ok(Self { keys })
    }

    pub(crate) fn get(&self, kid: &str) -> Option<&Key> {
        self.keys.get(kid)
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

/// A key we verify with, by its `kid`; or why not.
fn usable(value: serde_json::Value) -> Result<(String, Key), String> {
    let jwk: Jwk = serde_json::from_value(value).map_err(|e| format!("not a JWK: {e}"))?;
    let kid = jwk
        .common
        .key_id
        .clone()
        .ok_or("a key without a kid cannot be chosen")?;
    let named = |why: &str| format!("key {kid:?}: {why}");
    if matches!(&jwk.common.public_key_use, Some(u) if *u != PublicKeyUse::Signature) {
        return Err(named("not a signing key (use)"));
    }
    let algorithm = algorithm_of(&jwk.algorithm).map_err(|why| named(&why))?;
    if let Some(declared) = jwk.common.key_algorithm {
        if declared != KeyAlgorithm::from(algorithm) {
            return Err(named(&format!(
                "declares {declared} for a key that verifies {algorithm:?}"
            )));
        }
    }
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|e| named(&e.to_string()))?;
    Ok((
        kid,
        Key {
            algorithm,
            decoding,
        },
    ))
}

/// The one algorithm a key verifies, from its type and curve. The lengths are checked here because
/// jsonwebtoken's Ed25519 verifier slices the key without checking (a short one would panic).
fn algorithm_of(parameters: &AlgorithmParameters) -> Result<Algorithm, String> {
    let bytes = |field: &str, value: &str| {
        URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| format!("`{field}` is not base64url"))
    };
    let exactly = |field: &str, value: &str, len: usize| match bytes(field, value)?.len() {
        n if n == len => Ok(()),
        n => Err(format!("`{field}` is {n} bytes, not {len}")),
    };
    match parameters {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
            exactly("x", &p.x, 32)?;
            Ok(Algorithm::EdDSA)
        }
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => {
            exactly("x", &p.x, 32)?;
            exactly("y", &p.y, 32)?;
            Ok(Algorithm::ES256)
        }
        AlgorithmParameters::RSA(p) => {
            let bits = bytes("n", &p.n)?.len() * 8;
            if bits < 2048 {
                return Err(format!(
                    "an RSA key of {bits} bits is too weak (2048 at least)"
                ));
            }
            Ok(Algorithm::RS256)
        }
        AlgorithmParameters::OctetKey(_) => {
            Err("a symmetric key is never trusted: anyone who verifies could sign".to_owned())
        }
        _ => Err("not an Ed25519, P-256 or RSA key".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

    fn set(keys: &str) -> Result<KeySet, KeySetError> {
        KeySet::parse(format!(r#"{{"keys": [{keys}]}}"#).as_bytes())
    }

    #[test]
    fn an_ed25519_key_is_kept_by_its_kid_for_eddsa_only() {
        let keys = set(&format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"a"}}"#
        ))
        .expect("usable");
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.get("a").expect("kid a").algorithm, Algorithm::EdDSA);
    }

    #[test]
    fn unusable_keys_are_skipped_and_a_set_without_a_usable_one_is_refused() {
        let short = r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA","kid":"short"}"#;
        let secret = r#"{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}"#;
        let no_kid = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}"}}"#);
        let encryption =
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"e","use":"enc"}}"#);
        let lying =
            format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"l","alg":"RS256"}}"#);
        for key in [short, secret, &no_kid, &encryption, &lying] {
            let error = set(key).err().expect("no usable key");
            assert!(
                matches!(error, KeySetError::NoUsableKey(_)),
                "{key}: {error}"
            );
        }
        let good = format!(r#"{{"kty":"OKP","crv":"Ed25519","x":"{ED_X}","kid":"good"}}"#);
        let keys = set(&format!("{short},{secret},{good}")).expect("one usable");
        assert_eq!(keys.len(), 1);
        assert!(keys.get("good").is_some() && keys.get("hmac").is_none());
    }

    #[test]
    fn what_is_not_a_key_set_is_refused() {
        for document in ["", "{}", "[]", r#"{"keys": {}}"#, r#"{"keys": []}"#] {
            assert!(KeySet::parse(document.as_bytes()).is_err(), "{document}");
        }
    }
}
