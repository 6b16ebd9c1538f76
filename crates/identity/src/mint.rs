//! A development identity provider: an Ed25519 key pair, the key set that publishes its public half,
//! and tokens signed with it — for `just token`, the tests and the load generator. Services never sign.
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, KeyAlgorithm,
    OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse, ThumbprintHash,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

use crate::config::{DEFAULT_AUDIENCE, DEFAULT_ISSUER};

/// An Ed25519 signing key, known by its `kid` (its RFC 7638 thumbprint).
#[derive(Clone)]
pub struct SigningKey {
    secret: ed25519_dalek::SigningKey,
    encoding: EncodingKey,
    public: Jwk,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.kid())
    }
}

/// A key could not be made, read or written.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    #[error("no randomness for a new key: {0}")]
    Random(getrandom::Error),
    #[error("not an Ed25519 private key in PKCS#8 PEM")]
    NotAKey,
    #[error("cannot sign")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SigningKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Result<Self, MintError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(MintError::Random)?;
        Self::from_secret(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// A key from its PKCS#8 PEM form ([`SigningKey::to_pem`]).
    pub fn from_pem(pem: &str) -> Result<Self, MintError> {
        let secret =
            ed25519_dalek::SigningKey::from_pkcs8_pem(pem).map_err(|_| MintError::NotAKey)?;
        Self::from_secret(secret)
    }

    fn from_secret(secret: ed25519_dalek::SigningKey) -> Result<Self, MintError> {
        let der = secret.to_pkcs8_der().map_err(|_| MintError::NotAKey)?;
        let encoding = EncodingKey::from_ed_der(der.as_bytes());
        let mut public = Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::EdDSA),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                key_type: OctetKeyPairType::OctetKeyPair,
                curve: EllipticCurve::Ed25519,
                x: URL_SAFE_NO_PAD.encode(secret.verifying_key().as_bytes()),
            }),
        };
        public.common.key_id = Some(public.thumbprint(ThumbprintHash::SHA256)?);
        Ok(Self {
            secret,
            encoding,
            public,
        })
    }

    /// The private key in PKCS#8 PEM.
    pub fn to_pem(&self) -> Result<String, MintError> {
        let pem = self
            .secret
            .to_pkcs8_pem(Default::default())
            .map_err(|_| MintError::NotAKey)?;
        Ok(pem.to_string())
    }

    /// The key's id, which its tokens name.
    pub fn kid(&self) -> &str {
        self.public.common.key_id.as_deref().unwrap_or_default()
    }

    /// The public key as a JWK.
    pub fn public_jwk(&self) -> &Jwk {
        &self.public
    }

    /// A token of `claims`, signed with this key and naming it.
    pub fn sign(&self, claims: &TokenClaims) -> Result<String, MintError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid().to_owned());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// A token for `user` valid for `ttl`, with the default issuer and audience.
    pub fn token_for(&self, user: i64, ttl: Duration) -> Result<String, MintError> {
        self.sign(&TokenClaims::for_user(user, ttl))
    }
}

/// A key set document publishing `keys`.
pub fn key_set(keys: &[&SigningKey]) -> String {
    let keys: Vec<&Jwk> = keys.iter().map(|key| key.public_jwk()).collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// The claims of a token, as the development provider writes them.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TokenClaims {
    pub sub: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    pub iss: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
}

impl TokenClaims {
    /// `user`'s claims from now for `ttl`, with the default issuer and audience and no role.
    pub fn for_user(user: i64, ttl: Duration) -> Self {
        let now = now();
        Self {
            sub: user.to_string(),
            roles: Vec::new(),
            iss: DEFAULT_ISSUER.to_owned(),
            aud: DEFAULT_AUDIENCE.to_owned(),
            iat: now,
            exp: now.saturating_add(ttl.as_secs()),
            nbf: None,
        }
    }

    /// With `role` granted too.
    pub fn with_role(mut self, role: &str) -> Self {
        self.roles.push(role.to_owned());
        self
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The files of the development provider in a folder: `signing-key.pem` (readable by its owner only)
/// and `jwks.json`, the set services read (`AUTH_JWKS`).
#[derive(Clone, Debug)]
pub struct DevProvider {
    dir: PathBuf,
}

impl DevProvider {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The key set's path.
    pub fn jwks_path(&self) -> PathBuf {
        self.dir.join("jwks.json")
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join("signing-key.pem")
    }

    /// The provider's key: the one in the folder, else a new one written there with its key set.
    pub fn key(&self) -> Result<SigningKey, MintError> {
        let path = self.key_path();
        match std::fs::read_to_string(&path) {
            Ok(pem) => SigningKey::from_pem(&pem),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.create(),
            Err(source) => Err(MintError::Io { path, source }),
        }
    }

    fn create(&self) -> Result<SigningKey, MintError> {
        let key = SigningKey::generate()?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| MintError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        // The set first: a key whose set is missing would sign tokens nothing accepts.
        let jwks = self.jwks_path();
        std::fs::write(&jwks, key_set(&[&key])).map_err(io(&jwks))?;
        let path = self.key_path();
        write_private(&path, &key.to_pem()?).map_err(io(&path))?;
        Ok(key)
    }
}

/// Writes `content` to a new file only its owner can read.
fn write_private(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(content.as_bytes())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::{JwksLocation, Verifier, VerifySettings};

    #[tokio::test]
    async fn the_development_provider_keeps_one_key_whose_set_verifies_its_tokens() {
        let dir = std::env::temp_dir().join(format!("dev-idp-test-{}", uuid_like()));
        let provider = DevProvider::new(&dir);
        let key = provider.key().expect("made");
        let again = DevProvider::new(&dir).key().expect("read back");
        assert_eq!(key.kid(), again.kid(), "the same key, not a new one");
        let mode = std::fs::metadata(dir.join("signing-key.pem"))
            .expect("written")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by its owner only");
        let settings = VerifySettings::new(JwksLocation::File(provider.jwks_path()));
        let verifier = Verifier::start(&settings)
            .await
            .expect("the set file reads");
        let token = again.token_for(4, Duration::from_secs(60)).expect("token");
        assert_eq!(verifier.verify(&token).await.map(|c| c.user()), Ok(4));
        std::fs::remove_dir_all(&dir).expect("cleaned up");
    }

    #[test]
    fn a_key_survives_its_pem_form_and_garbage_is_no_key() {
        let key = SigningKey::generate().expect("key");
        let pem = key.to_pem().expect("pem");
        assert_eq!(SigningKey::from_pem(&pem).expect("a key").kid(), key.kid());
        assert!(matches!(
            SigningKey::from_pem("not a key"),
            Err(MintError::NotAKey)
        ));
        assert!(
            !format!("{key:?}").contains(&pem[30..60]),
            "no secret in Debug"
        );
    }

    fn uuid_like() -> String {
        let key = SigningKey::generate().expect("key");
        key.kid()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(16)
            .collect()
    }
}
