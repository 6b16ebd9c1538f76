use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{EncodingKey, Header};

use super::*;
use crate::mint::{key_set, now, SigningKey, TokenClaims};

const HOUR: Duration = Duration::from_secs(3600);

fn new_key() -> SigningKey {
    SigningKey::generate().expect("key")
}

async fn verifier(keys: &[&SigningKey]) -> Verifier {
    let settings = VerifySettings::new(JwksLocation::Inline(key_set(keys).into()));
    Verifier::start(&settings).await.expect("usable set")
}

fn b64(json: &str) -> String {
    URL_SAFE_NO_PAD.encode(json)
}

#[tokio::test]
async fn a_token_of_a_published_key_names_its_user_and_roles() {
    let key = new_key();
    let verifier = verifier(&[&key]).await;
    let caller = verifier
        .verify(&key.token_for(7, HOUR).expect("token"))
        .await
        .expect("valid");
    assert_eq!(caller.user(), 7);
    assert!(!caller.has_role("support"));
    let support = key
        .sign(&TokenClaims::for_user(8, HOUR).with_role("support"))
        .expect("token");
    let caller = verifier.verify(&support).await.expect("valid");
    assert_eq!(caller.user(), 8);
    assert!(caller.has_role("support"));
}

#[tokio::test]
async fn each_forgery_and_mistake_is_refused_with_its_reason() {
    let key = new_key();
    let other = new_key();
    let verifier = verifier(&[&key]).await;
    let now = now();
    let claims = |edit: fn(&mut TokenClaims, u64)| {
        let mut claims = TokenClaims::for_user(7, HOUR);
        edit(&mut claims, now);
        key.sign(&claims).expect("token")
    };
    let good = key.token_for(7, HOUR).expect("token");
    let (signed, _) = good.rsplit_once('.').expect("three parts");
    let other_signature = other
        .token_for(7, HOUR)
        .expect("token")
        .rsplit_once('.')
        .expect("three parts")
        .1
        .to_owned();
    let header = |json: &str| format!("{}.{}", b64(json), signed.split_once('.').expect("two").1);
    let kid = key.kid();
    // HS256 "signed" with the public key as the secret: the forgery an alg-confused verifier accepts.
    let public = serde_json::to_string(key.public_jwk()).expect("json");
    let mut hmac_header = Header::new(Algorithm::HS256);
    hmac_header.kid = Some(kid.to_owned());
    let hmac = jsonwebtoken::encode(
        &hmac_header,
        &TokenClaims::for_user(7, HOUR),
        &EncodingKey::from_secret(public.as_bytes()).expect("secret"),
    )
    .expect("hmac token");
    let cases: Vec<(&str, String, Refusal)> = vec![
        ("garbage", "not-a-token".into(), Refusal::Malformed),
        ("two parts", "a.b".into(), Refusal::Malformed),
        (
            "alg none",
            format!("{}.", header(&format!(r#"{{"alg":"none","kid":"{kid}"}}"#))),
            Refusal::Malformed,
        ),
        (
            "hmac with the public key",
            hmac,
            Refusal::SymmetricAlgorithm("HS256"),
        ),
        (
            "no kid",
            format!("{}.x", header(r#"{"alg":"EdDSA"}"#)),
            Refusal::NoKeyId,
        ),
        (
            "unknown kid",
            other.token_for(7, HOUR).expect("token"),
            Refusal::UnknownKey,
        ),
        (
            "another algorithm than its key's",
            format!(
                "{}.x",
                header(&format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#))
            ),
            Refusal::WrongAlgorithm,
        ),
        (
            "another key's signature",
            format!("{signed}.{other_signature}"),
            Refusal::BadSignature,
        ),
        (
            "expired",
            claims(|c, now| c.exp = now - 120),
            Refusal::Expired,
        ),
        (
            "not yet valid",
            claims(|c, now| c.nbf = Some(now + 120)),
            Refusal::NotYetValid,
        ),
        (
            "wrong issuer",
            claims(|c, _| c.iss = "someone-else".into()),
            Refusal::WrongIssuer,
        ),
        (
            "wrong audience",
            claims(|c, _| c.aud = "another-app".into()),
            Refusal::WrongAudience,
        ),
        (
            "a name",
            claims(|c, _| c.sub = "alice".into()),
            Refusal::NotAUser,
        ),
        ("zero", claims(|c, _| c.sub = "0".into()), Refusal::NotAUser),
        (
            "negative",
            claims(|c, _| c.sub = "-7".into()),
            Refusal::NotAUser,
        ),
        (
            "padded",
            claims(|c, _| c.sub = "07".into()),
            Refusal::NotAUser,
        ),
        (
            "too long",
            format!("{good}{}", "A".repeat(crate::MAX_TOKEN_BYTES)),
            Refusal::TooLong {
                max: crate::MAX_TOKEN_BYTES,
            },
        ),
    ];
    for (case, token, refusal) in cases {
        assert_eq!(verifier.verify(&token).await, Err(refusal), "{case}");
    }
}

#[tokio::test]
async fn claims_that_are_missing_or_of_the_wrong_shape_are_refused() {
    let key = new_key();
    let verifier = verifier(&[&key]).await;
    let sign = |claims: serde_json::Value| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid().to_owned());
        let der = key.to_pem().expect("pem");
        let encoding = EncodingKey::from_ed_pem(der.as_bytes()).expect("key");
        jsonwebtoken::encode(&header, &claims, &encoding).expect("token")
    };
    let exp = now() + 600;
    let no_sub = sign(serde_json::json!({"iss": "route256-dev", "aud": "route256", "exp": exp}));
    assert_eq!(
        verifier.verify(&no_sub).await,
        Err(Refusal::MissingClaim("sub".into()))
    );
    let no_exp = sign(serde_json::json!({"sub": "1", "iss": "route256-dev", "aud": "route256"}));
    assert_eq!(
        verifier.verify(&no_exp).await,
        Err(Refusal::MissingClaim("exp".into()))
    );
    let bad_roles = sign(serde_json::json!({
        "sub": "1", "iss": "route256-dev", "aud": "route256", "exp": exp, "roles": "support"
    }));
    assert_eq!(verifier.verify(&bad_roles).await, Err(Refusal::BadClaims));
}

#[tokio::test]
async fn clocks_may_disagree_by_the_leeway() {
    let key = new_key();
    let verifier = verifier(&[&key]).await;
    let mut claims = TokenClaims::for_user(7, HOUR);
    claims.exp = now() - 10;
    claims.nbf = Some(now() + 10);
    assert!(verifier
        .verify(&key.sign(&claims).expect("token"))
        .await
        .is_ok());
}

#[tokio::test]
async fn without_a_token_nobody_is_authenticated_unless_unchecked() {
    let key = new_key();
    let verifying = Authenticator::Verify(verifier(&[&key]).await);
    assert_eq!(verifying.authenticate(None).await, Err(Refusal::Missing));
    let token = key.token_for(3, HOUR).expect("token");
    assert_eq!(
        verifying.authenticate(Some(&token)).await.map(|a| a.user()),
        Ok(Some(3))
    );
    assert_eq!(
        Authenticator::Unchecked.authenticate(None).await,
        Ok(Access::Unchecked)
    );
}

#[tokio::test]
async fn a_set_without_a_usable_key_stops_the_start() {
    let settings = VerifySettings::new(JwksLocation::Inline(r#"{"keys": []}"#.into()));
    assert!(Verifier::start(&settings).await.is_err());
    let missing = VerifySettings::new(JwksLocation::File("/nonexistent/jwks.json".into()));
    let error = Verifier::start(&missing).await.expect_err("no file");
    assert!(telemetry::error_chain(&error).contains("/nonexistent/jwks.json"));
}

#[test]
fn a_verified_token_is_served_from_the_cache_until_its_exp_only() {
    let verified = Verified::default();
    let caller = Caller::new(1, Vec::new());
    verified.insert(0, "stale", &caller, now() - 100);
    assert_eq!(verified.get("stale", 30), None, "past exp and the leeway");
    assert_eq!(
        verified.get("stale", 200),
        Some(caller.clone()),
        "within the leeway"
    );
    verified.insert(0, "fresh", &caller, now() + 100);
    assert_eq!(verified.get("fresh", 0), Some(caller.clone()));
    assert_eq!(verified.get("fresh.", 0), None, "only the same bytes");
    for n in 0..MAX_VERIFIED {
        verified.insert(0, &n.to_string(), &caller, now() + 100);
    }
    let kept = verified.tokens.lock().expect("not poisoned").tokens.len();
    assert!(kept <= MAX_VERIFIED, "bounded: {kept}");
    verified.clear();
    assert_eq!(verified.get("0", 0), None);
    // Verified with the keys of the generation before the last read: not kept.
    verified.insert(0, "late", &caller, now() + 100);
    assert_eq!(verified.get("late", 0), None);
    verified.insert(verified.generation(), "late", &caller, now() + 100);
    assert_eq!(verified.get("late", 0), Some(caller));
}
